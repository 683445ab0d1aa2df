"""082_feed_consumer.py: a consumer of clm's stage-change feed, as an outside
system (email, SMS, a marketing platform) would write one.

    082_feed_consumer.py CONNSTR CONSUMER OUTFILE STOPFILE

It LISTENs on clm_stage_feed, reads the events after its position with
clm.feed_read, appends each to OUTFILE (one line per event: id, position,
customer, from stage, to stage, history id, withdrawal), makes the file
durable, and only then acknowledges them with clm.feed_ack: an event is
handled at least once.  When a read returns nothing it waits for a
notification (at most half a second), and stops once STOPFILE exists and
nothing is left to read.  Each start writes a line "START"; a run that
finishes writes "NOTIFIED n", the notifications it received, and "DONE".
"""
import os
import select
import sys

import psycopg

connstr, consumer, outfile, stopfile = sys.argv[1:5]

conn = psycopg.connect(connstr, autocommit=True)
notified = 0


def count_notification(n):
    global notified
    notified += 1


conn.add_notify_handler(count_notification)
conn.execute("LISTEN clm_stage_feed")
out = open(outfile, "a")
out.write("START\n")
out.flush()

while True:
    rows = conn.execute(
        "SELECT id, position::text, customer_key, coalesce(from_stage::text, '-'),"
        " to_stage::text, coalesce(history_id, 0), CASE WHEN withdrawal THEN 't' ELSE 'f' END"
        " FROM clm.feed_read(%s, 200)", (consumer,)).fetchall()
    for r in rows:
        out.write("|".join(str(v) for v in r) + "\n")
    out.flush()
    os.fsync(out.fileno())
    if rows:
        last = rows[-1]
        conn.execute("SELECT clm.feed_ack(%s, %s::xid8, %s)", (consumer, last[1], last[0]))
        continue
    if os.path.exists(stopfile):
        break
    select.select([conn.fileno()], [], [], 0.5)
out.write("NOTIFIED %d\n" % notified)
out.write("DONE\n")
out.close()

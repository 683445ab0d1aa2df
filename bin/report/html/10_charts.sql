-- bin/report/html/10_charts.sql: the drawing helpers of the HTML report, as
-- SQL functions in pg_temp (they live as long as the report's session).
-- Each returns one self-contained <svg> element: a title, the as-of date,
-- axis labels with their units, and the marks; a chart without data says
-- so instead of drawing marks.  Nothing here reads a table: the report's
-- queries (20_report.sql) pass the numbers in.

-- text for an SVG or HTML text node or attribute
CREATE FUNCTION pg_temp.esc(t text) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN replace(replace(replace(replace(coalesce(t, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;');

-- a number for a label: grouped thousands, digits after the point
CREATE FUNCTION pg_temp.num(v double precision, digits integer DEFAULT 0) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN v IS NULL THEN '–'
            WHEN digits = 0 THEN to_char(round(v::numeric), 'FM999,999,999,990')
            ELSE to_char(round(v::numeric, digits), 'FM999,999,999,990.' || repeat('0', digits)) END;

-- a coordinate, to a tenth
CREATE FUNCTION pg_temp.r1(v double precision) RETURNS numeric
LANGUAGE sql IMMUTABLE
RETURN round(v::numeric, 1);

-- a colour of the sequential blue scale for v in [0, 1]; grey for NULL
CREATE FUNCTION pg_temp.heat(v double precision) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN v IS NULL THEN '#eeeeee' ELSE
    '#' || lpad(to_hex(round(247 + (8 - 247) * greatest(0, least(1, v)))::integer), 2, '0')
        || lpad(to_hex(round(251 + (81 - 251) * greatest(0, least(1, v)))::integer), 2, '0')
        || lpad(to_hex(round(255 + (156 - 255) * greatest(0, least(1, v)))::integer), 2, '0') END;

-- the decimals a tick step needs: 2 below 1, 1 for 2.5, 12.5, ...
CREATE FUNCTION pg_temp.step_digits(step double precision) RETURNS integer
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN step < 1 THEN 2 WHEN step <> floor(step) THEN 1 ELSE 0 END;

-- a round step for about n ticks up to vmax
CREATE FUNCTION pg_temp.tick_step(vmax double precision, n integer DEFAULT 5) RETURNS double precision
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN vmax IS NULL OR vmax <= 0 THEN 1 ELSE
    (SELECT min(m * p) FROM (SELECT power(10, floor(log(vmax / n))) AS p) s,
            unnest(ARRAY[1, 2, 2.5, 5, 10]) m WHERE m * p >= vmax / n) END;

-- the frame every chart shares: title, as-of date, axis labels; body holds
-- the marks, or is NULL when there is nothing to draw (then empty_text)
CREATE FUNCTION pg_temp.frame(id text, title text, as_of text, xlabel text, ylabel text,
                              w_marks integer, h_marks integer, body text, empty_text text)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN (SELECT format('<svg id="%s" class="chart" xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s">'
              '<rect x="0" y="0" width="%s" height="%s" fill="#ffffff"/>'
              '<text x="%s" y="22" text-anchor="middle" class="title">%s</text>'
              '<text x="%s" y="40" text-anchor="middle" class="sub">%s</text>'
              '<text x="%s" y="%s" text-anchor="middle" class="axis">%s</text>'
              '<text transform="translate(16 %s) rotate(-90)" text-anchor="middle" class="axis">%s</text>'
              '%s</svg>',
              id, w, h, w, h, pg_temp.esc(title),
              w, h,
              w / 2, pg_temp.esc(title),
              w / 2, pg_temp.esc(as_of),
              w / 2, h - 8, pg_temp.esc(xlabel),
              h / 2, pg_temp.esc(ylabel),
              coalesce(body, format('<text x="%s" y="%s" text-anchor="middle" class="empty">%s</text>',
                                    w / 2, h / 2, pg_temp.esc(empty_text))))
        -- room for the title and the empty-chart text however few the marks
        FROM (SELECT greatest(w_marks, 560) AS w, greatest(h_marks, 240) AS h) AS size);

-- horizontal bars: one per label, value axis along the bottom
CREATE FUNCTION pg_temp.hbars(id text, title text, as_of text, xlabel text, ylabel text,
                              labels text[], vals double precision[], value_labels text[],
                              empty_text text)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN (
    WITH d AS (SELECT i, labels[i] AS l, coalesce(vals[i], 0) AS v, value_labels[i] AS vl
                 FROM generate_subscripts(labels, 1) i),
         g AS (SELECT greatest(max(v), 0) AS vmax, count(*) AS n FROM d),
         s AS (SELECT vmax, n, pg_temp.tick_step(vmax) AS step, 170 AS x0, 720 - 90 AS x1 FROM g),
         sc AS (SELECT *, ceil(greatest(vmax, 1e-9) / step) * step AS top FROM s)
    SELECT pg_temp.frame(id, title, as_of, xlabel, ylabel, 720, (70 + 26 * sc.n + 40)::integer,
        CASE WHEN sc.vmax > 0 THEN
            (SELECT string_agg(format('<line x1="%1$s" y1="56" x2="%1$s" y2="%2$s" class="grid"/>'
                                      '<text x="%1$s" y="%3$s" text-anchor="middle" class="tick">%4$s</text>',
                                      pg_temp.r1(sc.x0 + (sc.x1 - sc.x0) * t / sc.top), 60 + 26 * sc.n,
                                      74 + 26 * sc.n, pg_temp.num(t, pg_temp.step_digits(sc.step))), '')
               FROM generate_series(0::numeric, sc.top::numeric, sc.step::numeric) t)
            || (SELECT string_agg(format('<text x="%s" y="%s" text-anchor="end" class="label">%s</text>'
                                         '<rect x="%s" y="%s" width="%s" height="18" class="bar"><title>%s: %s</title></rect>'
                                         '<text x="%s" y="%s" class="value">%s</text>',
                                         sc.x0 - 6, 60 + 26 * (d.i - 1) + 13, pg_temp.esc(d.l),
                                         sc.x0, 60 + 26 * (d.i - 1), pg_temp.r1((sc.x1 - sc.x0) * d.v / sc.top),
                                         pg_temp.esc(d.l), pg_temp.esc(d.vl),
                                         sc.x0 + pg_temp.r1((sc.x1 - sc.x0) * d.v / sc.top) + 4, 60 + 26 * (d.i - 1) + 13,
                                         pg_temp.esc(d.vl)), '' ORDER BY d.i) FROM d)
        END, empty_text)
    FROM sc);

-- a funnel: centred bars, width by customers, the step's conversion rate beside
CREATE FUNCTION pg_temp.funnel(id text, title text, as_of text, xlabel text, ylabel text,
                               labels text[], vals double precision[], rates double precision[],
                               empty_text text)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN (
    WITH d AS (SELECT i, labels[i] AS l, coalesce(vals[i], 0) AS v, rates[i] AS r
                 FROM generate_subscripts(labels, 1) i),
         g AS (SELECT max(v) AS vmax, count(*) AS n FROM d)
    SELECT pg_temp.frame(id, title, as_of, xlabel, ylabel, 720, (70 + 30 * g.n + 30)::integer,
        CASE WHEN g.vmax > 0 THEN
            (SELECT string_agg(format('<rect x="%s" y="%s" width="%s" height="24" class="bar"><title>%s: %s</title></rect>'
                                      '<text x="150" y="%s" text-anchor="end" class="label">%s</text>'
                                      '<text x="570" y="%s" class="value">%s</text>',
                                      pg_temp.r1(360 - 190 * d.v / g.vmax), 56 + 30 * (d.i - 1), pg_temp.r1(380 * d.v / g.vmax),
                                      pg_temp.esc(d.l), pg_temp.num(d.v),
                                      56 + 30 * (d.i - 1) + 16, pg_temp.esc(d.l),
                                      56 + 30 * (d.i - 1) + 16,
                                      pg_temp.num(d.v) || CASE WHEN d.i > 1 THEN ' · ' || pg_temp.num(100 * d.r, 1) || ' %' ELSE '' END),
                               '' ORDER BY d.i) FROM d)
        END, empty_text)
    FROM g);

-- a heatmap: rows ylabels, columns xlabels, vals row-major; the cell text
-- is cell_labels (same order), the colour vals / vmax
CREATE FUNCTION pg_temp.heatmap(id text, title text, as_of text, xlabel text, ylabel text,
                                xlabels text[], ylabels text[], vals double precision[],
                                cell_labels text[], empty_text text, cell_w integer DEFAULT 56)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN (
    WITH g AS (SELECT cardinality(xlabels) AS nx, cardinality(ylabels) AS ny,
                      (SELECT max(v) FROM unnest(vals) v) AS vmax),
         c AS (SELECT i, j, vals[(i - 1) * g.nx + j] AS v, cell_labels[(i - 1) * g.nx + j] AS cl
                 FROM g, generate_series(1, g.ny) i, generate_series(1, g.nx) j)
    SELECT pg_temp.frame(id, title, as_of, xlabel, ylabel,
                         (170 + cell_w * g.nx + 20)::integer, (84 + 28 * g.ny + 30)::integer,
        CASE WHEN g.vmax > 0 THEN
            (SELECT string_agg(format('<text x="%s" y="72" text-anchor="middle" class="tick">%s</text>',
                                      170 + cell_w * (j - 1) + cell_w / 2, pg_temp.esc(xlabels[j])), '' ORDER BY j)
               FROM generate_series(1, g.nx) j)
            || (SELECT string_agg(format('<text x="164" y="%s" text-anchor="end" class="label">%s</text>',
                                         80 + 28 * (i - 1) + 18, pg_temp.esc(ylabels[i])), '' ORDER BY i)
                  FROM generate_series(1, g.ny) i)
            || (SELECT string_agg(format('<rect x="%s" y="%s" width="%s" height="26" fill="%s"><title>%s / %s: %s</title></rect>'
                                         '<text x="%s" y="%s" text-anchor="middle" class="%s">%s</text>',
                                         170 + cell_w * (c.j - 1), 80 + 28 * (c.i - 1), cell_w - 2,
                                         pg_temp.heat(c.v / g.vmax),
                                         pg_temp.esc(ylabels[c.i]), pg_temp.esc(xlabels[c.j]), pg_temp.esc(coalesce(c.cl, '–')),
                                         170 + cell_w * (c.j - 1) + cell_w / 2 - 1, 80 + 28 * (c.i - 1) + 17,
                                         CASE WHEN c.v / g.vmax > 0.55 THEN 'cell dark' ELSE 'cell' END,
                                         pg_temp.esc(c.cl)), '' ORDER BY c.i, c.j) FROM c)
        END, empty_text)
    FROM g);

-- vertical bars, one or two series (series2 NULL for one), with a legend
CREATE FUNCTION pg_temp.vbars(id text, title text, as_of text, xlabel text, ylabel text,
                              labels text[], series1 double precision[], series2 double precision[],
                              legend1 text, legend2 text, empty_text text, digits integer DEFAULT 0)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN (
    WITH d AS (SELECT i, labels[i] AS l, coalesce(series1[i], 0) AS a, series2[i] AS b
                 FROM generate_subscripts(labels, 1) i),
         g AS (SELECT greatest(max(a), coalesce(max(b), 0)) AS vmax, count(*) AS n FROM d),
         s AS (SELECT *, pg_temp.tick_step(vmax) AS step, 620.0 / greatest(n, 1) AS slot FROM g),
         sc AS (SELECT *, ceil(greatest(vmax, 1e-9) / step) * step AS top FROM s)
    SELECT pg_temp.frame(id, title, as_of, xlabel, ylabel, 720, 360,
        CASE WHEN sc.vmax > 0 THEN
            (SELECT string_agg(format('<line x1="80" y1="%1$s" x2="700" y2="%1$s" class="grid"/>'
                                      '<text x="74" y="%2$s" text-anchor="end" class="tick">%3$s</text>',
                                      pg_temp.r1(310 - 250 * t / sc.top), pg_temp.r1(310 - 250 * t / sc.top) + 4,
                                      pg_temp.num(t, pg_temp.step_digits(sc.step))), '')
               FROM generate_series(0::numeric, sc.top::numeric, sc.step::numeric) t)
            || (SELECT string_agg(
                   format('<rect x="%s" y="%s" width="%s" height="%s" class="bar"><title>%s: %s</title></rect>',
                          pg_temp.r1(80 + sc.slot * (d.i - 1) + sc.slot * 0.1), pg_temp.r1(310 - 250 * d.a / sc.top),
                          pg_temp.r1(sc.slot * (CASE WHEN series2 IS NULL THEN 0.8 ELSE 0.4 END)),
                          pg_temp.r1(250 * d.a / sc.top), pg_temp.esc(d.l), pg_temp.num(d.a, digits))
                   || CASE WHEN series2 IS NULL THEN '' ELSE
                      format('<rect x="%s" y="%s" width="%s" height="%s" class="bar2"><title>%s: %s</title></rect>',
                             pg_temp.r1(80 + sc.slot * (d.i - 1) + sc.slot * 0.5), pg_temp.r1(310 - 250 * coalesce(d.b, 0) / sc.top),
                             pg_temp.r1(sc.slot * 0.4), pg_temp.r1(250 * coalesce(d.b, 0) / sc.top),
                             pg_temp.esc(d.l), pg_temp.num(d.b, digits)) END
                   || format('<text x="%s" y="328" text-anchor="middle" class="tick">%s</text>',
                             pg_temp.r1(80 + sc.slot * (d.i - 1) + sc.slot / 2), pg_temp.esc(d.l)),
                   '' ORDER BY d.i) FROM d)
            || CASE WHEN series2 IS NULL THEN '' ELSE
               format('<rect x="520" y="50" width="12" height="12" class="bar"/><text x="538" y="60" class="label">%s</text>'
                      '<rect x="520" y="68" width="12" height="12" class="bar2"/><text x="538" y="78" class="label">%s</text>',
                      pg_temp.esc(legend1), pg_temp.esc(legend2)) END
        END, empty_text)
    FROM sc);

-- a line through points (x ascending), both axes from 0; y up to ymax
CREATE FUNCTION pg_temp.line(id text, title text, as_of text, xlabel text, ylabel text,
                             xs double precision[], ys double precision[], ymax double precision,
                             empty_text text)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN (
    WITH d AS (SELECT i, xs[i] AS x, ys[i] AS y FROM generate_subscripts(xs, 1) i WHERE ys[i] IS NOT NULL),
         g AS (SELECT max(x) AS xmax, count(*) AS n FROM d),
         sc AS (SELECT *, pg_temp.tick_step(xmax) AS xstep, ceil(greatest(xmax, 1e-9) / pg_temp.tick_step(xmax)) * pg_temp.tick_step(xmax) AS xtop FROM g)
    SELECT pg_temp.frame(id, title, as_of, xlabel, ylabel, 720, 360,
        CASE WHEN sc.n > 0 AND sc.xmax > 0 THEN
            (SELECT string_agg(format('<line x1="80" y1="%1$s" x2="700" y2="%1$s" class="grid"/>'
                                      '<text x="74" y="%2$s" text-anchor="end" class="tick">%3$s</text>',
                                      pg_temp.r1(310 - 250 * t / ymax), pg_temp.r1(310 - 250 * t / ymax) + 4, pg_temp.num(t, 1)), '')
               FROM generate_series(0::numeric, ymax::numeric, (ymax / 5)::numeric) t)
            || (SELECT string_agg(format('<text x="%s" y="328" text-anchor="middle" class="tick">%s</text>',
                                         pg_temp.r1(80 + 620 * t / sc.xtop), pg_temp.num(t, pg_temp.step_digits(sc.xstep))), '')
                  FROM generate_series(0::numeric, sc.xtop::numeric, sc.xstep::numeric) t)
            || format('<polyline class="line" points="%s"/>',
                      (SELECT string_agg(pg_temp.r1(80 + 620 * d.x / sc.xtop) || ',' || pg_temp.r1(310 - 250 * least(d.y, ymax) / ymax),
                                         ' ' ORDER BY d.x) FROM d))
            || (SELECT string_agg(format('<circle cx="%s" cy="%s" r="3" class="dot"><title>%s: %s</title></circle>',
                                         pg_temp.r1(80 + 620 * d.x / sc.xtop), pg_temp.r1(310 - 250 * least(d.y, ymax) / ymax),
                                         pg_temp.num(d.x, 1), pg_temp.num(d.y, 3)), '' ORDER BY d.x) FROM d)
        END, empty_text)
    FROM sc);

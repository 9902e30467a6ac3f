-- ok Query
SELECT iteminfo->category->name, address->street FROM orders WHERE address->state = 'CA' EMIT CHANGES;

-- ok Query
SELECT i.* FROM INPUT i EMIT CHANGES;

-- ok Query
SELECT col0, col2, col3, col4[1], col5['key1'] FROM test1 EMIT CHANGES;

-- ok Query
SELECT CASE WHEN orderunits < 10 THEN 'small' WHEN orderunits < 100 THEN 'medium' ELSE 'large' END FROM orders EMIT CHANGES;

-- ok Query
SELECT CASE status WHEN 1 THEN 'one' ELSE 'other' END AS s FROM orders EMIT CHANGES;

-- ok Query
SELECT K FROM INPUT WHERE val LIKE 'a!%%' ESCAPE '!' AND id NOT BETWEEN 2 AND 4 AND id IN (1, 2, 3) AND a IS NOT DISTINCT FROM b AND c IS NOT NULL EMIT CHANGES;

-- ok Query
SELECT CAST(foo AS DECIMAL(5,3)), DECIMAL '1.50', 'a' || 'b' FROM TEST EMIT CHANGES;

-- ok Query
SELECT 10, col2, 'test', 2.5, true, -5, 2.5e2, -(-12345) FROM test1 EMIT CHANGES;

-- ok Query
SELECT ROWTIME, ROWPARTITION, ROWOFFSET, id FROM s WHERE ROWTIME > '2020-01-01T00:00:00' EMIT CHANGES;

-- ok Query
SELECT 6 % 4 / 2 * 6 AS VAL, 6 / 2 % 2 * 2 AS VAL2, 2 * 3 % 4 AS VAL3 FROM INPUT EMIT CHANGES;

-- ok Query
SELECT `Quoted Name`, "dq" FROM `Input` EMIT CHANGES;

-- ok Query
SELECT k1, v1->*, a->b->* FROM INPUT EMIT CHANGES;

-- ok Query
SELECT ID, TRANSFORM(TRANSFORM(VALUE, (x,y) => x, (x,y) => FIlTER(y, z => z < 5)), (x,y) => UCASE(x) , (k,v) => ARRAY_MAX(v)) as FILTERED_TRANSFORMED from TEST emit changes;

-- ok Query
SELECT CAST(s AS ARRAY<INT>) FROM TEST EMIT CHANGES;

-- ok Query
SELECT TIMESTAMPADD(SECONDS, 5, ts), COUNT(*) FROM s GROUP BY TIMESTAMPADD(SECONDS, 5, ts) EMIT CHANGES;

"""PostgreSQL issues and checks ContactPoint IDs, so no code path can create a bad or reused one.

``contactpoint_id_next()`` takes the next value of a sequence that never cycles, scrambles it with
a four-round Feistel permutation over 36 bits (a bijection, so IDs stay unique while revealing
neither order nor count), pads it to 11 digits and appends the Damm check digit.
``contactpoint_id_is_valid()`` backs the check constraint on ``directory_child``.
The Damm table is the one in directory/contactpoint_id.py.
"""

from django.db import migrations

FUNCTIONS = r"""
CREATE SEQUENCE directory_contactpoint_id_seq AS bigint MINVALUE 1 MAXVALUE 68719476735 NO CYCLE;

CREATE FUNCTION contactpoint_id_check_digit(digits text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    damm CONSTANT smallint[] := '{0,3,1,7,5,9,8,6,4,2, 7,0,9,2,1,5,4,8,6,3,
                                 4,2,0,6,8,7,1,3,5,9, 1,7,5,0,9,8,3,4,2,6,
                                 6,1,2,3,0,4,5,9,7,8, 3,6,7,4,2,0,9,5,8,1,
                                 5,8,6,9,7,2,0,1,3,4, 8,9,4,5,3,6,2,0,1,7,
                                 9,4,3,8,6,1,7,2,0,5, 2,5,8,1,4,3,6,7,9,0}';
    interim integer := 0;
BEGIN
    FOR i IN 1..length(digits) LOOP
        interim := damm[interim * 10 + ascii(substr(digits, i, 1)) - 48 + 1];
    END LOOP;
    RETURN interim;
END $$;

CREATE FUNCTION contactpoint_id_is_valid(value text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN value ~ '^[0-9]{12}$' THEN contactpoint_id_check_digit(value) = 0
                ELSE false END
$$;

CREATE FUNCTION contactpoint_id_next() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n CONSTANT bigint := nextval('directory_contactpoint_id_seq');
    round_keys CONSTANT bigint[] := '{158209, 36841, 241027, 99991}';
    left_half bigint := n >> 18;
    right_half bigint := n & 262143;
    previous_right bigint;
    digits text;
BEGIN
    FOR r IN 1..4 LOOP
        previous_right := right_half;
        right_half := left_half # ((((right_half # round_keys[r]) * 2654435761) % 4294967291) & 262143);
        left_half := previous_right;
    END LOOP;
    digits := lpad(((left_half << 18) | right_half)::text, 11, '0');
    RETURN digits || contactpoint_id_check_digit(digits)::text;
END $$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION contactpoint_id_next();
DROP FUNCTION contactpoint_id_is_valid(text);
DROP FUNCTION contactpoint_id_check_digit(text);
DROP SEQUENCE directory_contactpoint_id_seq;
"""


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS)]

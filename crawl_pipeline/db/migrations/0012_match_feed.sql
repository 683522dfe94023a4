-- The public match feed (Steam GetMatchHistoryBySequenceNum), read range by range by the match_feed
-- asset. One row per partition (a range of sequence numbers) holds its cursor; one row per feed call
-- records the sequence numbers that call covered. Both change only in the transaction that stores the
-- call's matches, so a crash re-reads a page, never skips one, and two calls never cover the same number.

CREATE TABLE match_feed_ranges (
    range_key       text PRIMARY KEY CHECK (range_key ~ '^seq-[0-9]{13}-[0-9]{13}$'),
    range_start     bigint NOT NULL CHECK (range_start >= 0),   -- first sequence number (inclusive)
    range_end       bigint NOT NULL,                            -- end (exclusive)
    first_seq_num   bigint NOT NULL,   -- where reading began: start_at_match_seq_num or range_start
    next_seq_num    bigint NOT NULL,   -- the cursor: start_at_match_seq_num of the next call
    calls           integer NOT NULL DEFAULT 0,
    matches_stored  integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,       -- set when the cursor reaches range_end
    CHECK (range_start < range_end),
    CHECK (first_seq_num BETWEEN range_start AND range_end),
    CHECK (next_seq_num BETWEEN first_seq_num AND range_end),
    CHECK ((completed_at IS NOT NULL) = (next_seq_num = range_end)),
    EXCLUDE USING gist (int8range(range_start, range_end) WITH &&)
);

CREATE TABLE match_feed_calls (
    call_id             bigserial PRIMARY KEY,
    range_key           text NOT NULL REFERENCES match_feed_ranges (range_key) ON DELETE CASCADE,
    start_seq_num       bigint NOT NULL,   -- start_at_match_seq_num asked for (the cursor before)
    end_seq_num         bigint NOT NULL,   -- the cursor after: the call covered [start, end)
    matches_returned    integer NOT NULL,  -- in the answer (those at or beyond range_end are left to the next range)
    matches_in_range    integer NOT NULL,
    matches_stored      integer NOT NULL,  -- newly detailed (store_details skips matches already detailed)
    players_stored      integer NOT NULL,
    new_accounts        integer NOT NULL,
    first_match_seq_num bigint,
    last_match_seq_num  bigint,
    run_id              text,
    called_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (start_seq_num < end_seq_num),
    EXCLUDE USING gist (int8range(start_seq_num, end_seq_num) WITH &&)  -- no sequence number read twice
);
CREATE INDEX match_feed_calls_range ON match_feed_calls (range_key, start_seq_num);

-- The cursor never goes backwards, and where a range began never changes.
CREATE FUNCTION match_feed_cursor_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.next_seq_num < OLD.next_seq_num THEN
        RAISE EXCEPTION 'match_feed cursor of % cannot go back from % to %', OLD.range_key, OLD.next_seq_num,
            NEW.next_seq_num;
    END IF;
    IF NEW.first_seq_num <> OLD.first_seq_num OR NEW.range_start <> OLD.range_start OR NEW.range_end <> OLD.range_end THEN
        RAISE EXCEPTION 'match_feed range % cannot change its bounds', OLD.range_key;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER match_feed_cursor_forward BEFORE UPDATE ON match_feed_ranges
    FOR EACH ROW EXECUTE FUNCTION match_feed_cursor_forward();

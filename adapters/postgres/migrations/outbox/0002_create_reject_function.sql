-- govkit_reject fails the statement that calls it with SQLSTATE code and
-- detail. A store's write checks its conditions (the version it expects,
-- the keys it claims) inside its statements and rejects through this
-- function, so that a failed check aborts the transaction on the server
-- and COMMIT can travel in the same batch as the writes.
CREATE FUNCTION govkit_reject(code text, detail text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = 'govkit: change rejected', DETAIL = coalesce(detail, '');
END
$$;

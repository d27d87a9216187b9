-- Every segmentation run updates every customer row (segment, confidence, mean daily kWh, run) and
-- writes a few million recommendations (customer_svc/store.py: store_assignments).
-- Room in each page for a row's next version: the update is then heap-only (HOT), no new entry in
-- the customer indexes, when the segment (the one indexed column it writes) is unchanged. Pages
-- written before this fill up to the new factor from the next run on.
ALTER TABLE customers.customers SET (fillfactor = 50);
-- Recommendation ids in blocks per session, not one sequence update per row.
ALTER SEQUENCE customers.customer_recommendations_id_seq CACHE 1000;

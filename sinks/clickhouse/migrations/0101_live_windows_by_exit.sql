-- Rolling live windows count a contact in the window in which it LEFT the queue (answered, abandoned,
-- called back or transferred out), as contact-centre wallboards do: a window can then hold a wait
-- longer than itself. 0100 grouped by queue entry (placed_at), so a 15-minute window never held a
-- wait above 15 minutes and looked better than it was under load. Contacts still waiting are in
-- live_queue_now (count, longest wait, past threshold). Replaces the view of 0100 (applied
-- migrations never change).
CREATE OR REPLACE VIEW live_queue_periods
COMMENT 'Per queue over the last 15 min, the last 60 min and today (local), by the time each contact left the queue: left (queued contacts that left), answered, service level and abandonment with counts'
AS SELECT force_id, queue, period, countIf(entered_queue) AS offered, countIf(outcome = 'answered') AS answered,
    countIf(outcome = 'answered' AND service_wait_seconds < threshold_seconds) AS answered_within,
    if(answered = 0, NULL, 100 * answered_within / answered) AS service_level_pct,
    countIf(abandoned_in_queue) AS abandoned, countIf(short_abandon) AS short_abandoned,
    abandoned - short_abandoned AS abandonment_num, offered - short_abandoned AS abandonment_den,
    if(abandonment_den = 0, NULL, 100 * abandonment_num / abandonment_den) AS abandonment_pct,
    max(service_wait_seconds) AS longest_wait_seconds
FROM
(
    SELECT *, arrayJoin(arrayFilter(p -> p.2, [
        ('last_15m', left_queue_at >= now64(3) - INTERVAL 15 MINUTE),
        ('last_60m', left_queue_at >= now64(3) - INTERVAL 60 MINUTE),
        ('today', toDate(left_queue_at, 'Europe/London') = toDate(now(), 'Europe/London'))
    ])).1 AS period
    FROM
    (
        SELECT *, coalesce(answered_at, abandoned_at, callback_at, transferred_out_at) AS left_queue_at
        FROM contact_legs FINAL
        WHERE placed_at >= now64(3) - INTERVAL 3 DAY AND placed_at <= now64(3)
    )
    WHERE left_queue_at IS NOT NULL AND left_queue_at >= now64(3) - INTERVAL 2 DAY
        AND left_queue_at <= now64(3)
)
GROUP BY force_id, queue, period;

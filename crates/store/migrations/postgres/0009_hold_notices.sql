-- SPEC 9: the "a reply is waiting for you" template goes out at most once per closed-window episode
-- of a customer, however many replies are held. An episode is keyed by the customer's last inbound
-- sent_at (0: they never wrote); the primary key makes a second notice in one episode impossible,
-- even when two holds race (the second insert waits for the first transaction, then does nothing).
CREATE TABLE hold_notices (
    identity_id BIGINT NOT NULL REFERENCES identities(id),
    episode_at  BIGINT NOT NULL,   -- identities.last_inbound_at when the notice was sent
    message_id  BIGINT REFERENCES messages(id),  -- the notice; set in the transaction that claims the key
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (identity_id, episode_at)
);

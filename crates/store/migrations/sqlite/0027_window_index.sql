-- Windows closing soon (its list and its count on every page) is a range of the customer's last
-- message: this index finds those few identities instead of reading every open ticket's.
CREATE INDEX identities_last_inbound ON identities (last_inbound_at);

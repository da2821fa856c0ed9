-- Rate cards (SPEC 11, issue 17): prices per market and category, in one currency, from a date.
-- Prices are decimal text, exact as the card gives them.
CREATE TABLE rate_cards (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT    NOT NULL UNIQUE,
    effective_from         TEXT    NOT NULL,
    currency               TEXT    NOT NULL,
    model                  TEXT    NOT NULL CHECK (model IN ('PMP', 'CBP')),
    utility_free_in_window INTEGER NOT NULL,
    free_entry_point_free  INTEGER NOT NULL,
    shipped                INTEGER NOT NULL,
    created_at             INTEGER NOT NULL
);
CREATE TABLE rate_card_prices (
    card_id     INTEGER NOT NULL REFERENCES rate_cards(id),
    market      TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    price       TEXT    NOT NULL,
    volume_from INTEGER NOT NULL,
    source      TEXT,
    PRIMARY KEY (card_id, market, category, volume_from)
);
-- Every shipped card ever seeded, by name: a card an admin deleted is not seeded again, and a
-- card a later release ships is.
CREATE TABLE rate_cards_shipped (
    name      TEXT    PRIMARY KEY,
    seeded_at INTEGER NOT NULL
);

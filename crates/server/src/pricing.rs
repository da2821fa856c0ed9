//! The desk's rate book (SPEC 11): the stored rate cards of the configured currency, over Meta's
//! market map, cached and read again when cards change here or, from other instances, after at
//! most [`REFRESH`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;
use windowdesk_core::pricing::{MarketMap, RateBook, RateCard};
use windowdesk_store::{Store, StoreError};

/// How stale the cached cards may be when another instance changed them.
pub const REFRESH: Duration = Duration::from_secs(60);

pub struct Pricing {
    currency: String,
    cached: RwLock<Option<(Instant, Arc<RateBook>)>>,
}

impl std::fmt::Debug for Pricing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pricing").field("currency", &self.currency).finish_non_exhaustive()
    }
}

impl Pricing {
    pub fn new(currency: &str) -> Pricing {
        Pricing { currency: currency.to_ascii_uppercase(), cached: RwLock::new(None) }
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The rate book as stored now (at most [`REFRESH`] old).
    pub async fn book(&self, store: &dyn Store) -> Result<Arc<RateBook>, StoreError> {
        if let Some((at, book)) = self.cached.read().await.as_ref() {
            if at.elapsed() < REFRESH {
                return Ok(book.clone());
            }
        }
        let mut cached = self.cached.write().await;
        if let Some((at, book)) = cached.as_ref() {
            if at.elapsed() < REFRESH {
                return Ok(book.clone());
            }
        }
        let cards: Vec<RateCard> = store.rate_cards().await?.into_iter().map(|r| r.card).collect();
        let book = Arc::new(RateBook::new(cards, MarketMap::shipped(), &self.currency));
        *cached = Some((Instant::now(), book.clone()));
        Ok(book)
    }

    /// Cards changed on this instance: the next [`Pricing::book`] reads them.
    pub async fn forget(&self) {
        *self.cached.write().await = None;
    }
}

//! What `on_stores!` gives each test: a fresh store, or a fresh database's URL, per kind of
//! database. A fixture keeps its temporary directory alive until the test ends.

use std::sync::Arc;

use belfry::store::Store as AnyStore;

/// A store on a fresh database.
pub struct Store {
    store: Arc<dyn AnyStore>,
    _dir: Option<tempfile::TempDir>,
}

impl Store {
    pub fn arg(&self) -> Arc<dyn AnyStore> {
        Arc::clone(&self.store)
    }
}

/// A fresh database, by URL, for tests that start servers or open several stores on it.
pub struct Database {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    pub fn arg(&self) -> String {
        self.url.clone()
    }
}

pub mod store {
    use belfry::store::mongo::MongoStore;

    use super::Store;

    pub async fn sqlite() -> Store {
        let db = crate::support::sqlite().await;
        Store {
            store: db.store,
            _dir: Some(db.dir),
        }
    }

    pub async fn mongo() -> Store {
        Store {
            store: crate::support::mongo().await,
            _dir: None,
        }
    }

    /// A MongoDB without change streams.
    pub async fn mongo_standalone() -> Store {
        let uri = crate::support::fresh_standalone_uri();
        let store = MongoStore::connect(&uri, "notifications")
            .await
            .expect("the MongoDB store connects");
        Store {
            store: std::sync::Arc::new(store),
            _dir: None,
        }
    }
}

pub mod database {
    use super::Database;

    pub async fn sqlite() -> Database {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Database {
            url: crate::support::sqlite_url(&dir),
            _dir: Some(dir),
        }
    }

    pub async fn mongo() -> Database {
        Database {
            url: crate::support::fresh_mongo_uri(),
            _dir: None,
        }
    }

    /// A MongoDB without change streams: the feed tails by query.
    pub async fn mongo_standalone() -> Database {
        Database {
            url: crate::support::fresh_standalone_uri(),
            _dir: None,
        }
    }
}

// A deploy root: lock, materialize, activate, rollback, drift scan (the deploy issue).

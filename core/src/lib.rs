//! ml-connector core (skeleton)

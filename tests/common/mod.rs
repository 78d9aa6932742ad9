//! The stand-in for the platform's config manager and realtime service ([`platform`]), for the tests
//! of stack mode, and the [`gate`] that holds a fixture's hook or call until the test lets it go.
//! Everything else the tests share is the `cm-test-support` crate.

// Every test file compiles this module anew and uses a different subset of it.
#![allow(dead_code)]

pub mod gate;
pub mod platform;
pub mod shutdown;

// The stand-in waits with the one bound of every test.
use cm_test_support::TIMEOUT;

//! The stand-in for the platform's config manager and realtime service ([`platform`]), for the tests
//! of stack mode. Everything else the tests share is the `cm-test-support` crate.

// Every test file compiles this module anew and uses a different subset of it.
#![allow(dead_code)]

pub mod platform;

// The stand-in waits with the one bound of every test.
use cm_test_support::TIMEOUT;

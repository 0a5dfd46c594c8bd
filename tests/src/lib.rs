//! End-to-end tests for rreg; the harness lives in tests/tests/common.

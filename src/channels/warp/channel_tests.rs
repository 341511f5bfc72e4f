//! Tests of the channel layer: reconciliation, tool mapping, request building, auth parsing.


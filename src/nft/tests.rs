//! Unit tests of the nft reader.

// Package translog makes notrain's ledger a verifiable log: every ledger
// entry is a leaf of an RFC 6962 Merkle tree, the log signs checkpoints
// (C2SP tlog-checkpoint, as signed notes), serves its tree as tiles (C2SP
// tlog-tiles) and proves inclusion and consistency.
package translog

import _ "golang.org/x/mod/sumdb/tlog" // the tree's hashing, tiles and proofs

package manifest

import (
	"context"
	"errors"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/tlogclient"
	"github.com/notrain/notrain/internal/translog"
)

// StoredLog is the store's side of the verifiable log.
type StoredLog interface {
	LogCheckpoint(ctx context.Context) (int64, []byte, error)
	ProveConsistency(ctx context.Context, n, m int64) (tlog.TreeProof, error)
}

// FromStore checks manifests against the log in a store.
func FromStore(s StoredLog) Log { return storeLog{s} }

type storeLog struct{ s StoredLog }

func (l storeLog) Current(ctx context.Context, v note.Verifier) (translog.Checkpoint, error) {
	_, msg, err := l.s.LogCheckpoint(ctx)
	if err != nil {
		return translog.Checkpoint{}, err
	}
	if msg == nil {
		return translog.Checkpoint{}, errors.New("manifest: the log has no signed checkpoint yet")
	}
	return translog.OpenCheckpoint(msg, v)
}

func (l storeLog) Consistency(ctx context.Context, cur translog.Checkpoint, m int64) (tlog.TreeProof, error) {
	if m == 0 || m > cur.Size {
		return nil, nil // CheckGrowth decides: nothing to prove, or the log shrank
	}
	return l.s.ProveConsistency(ctx, cur.Size, m)
}

// FromClient checks manifests against a log read over HTTP: its signed
// checkpoint and its tiles, each tile checked against the signed root.
func FromClient(c *tlogclient.Client) Log { return clientLog{c} }

type clientLog struct{ c *tlogclient.Client }

func (l clientLog) Current(ctx context.Context, v note.Verifier) (translog.Checkpoint, error) {
	return l.c.Checkpoint(ctx, v)
}

func (l clientLog) Consistency(ctx context.Context, cur translog.Checkpoint, m int64) (tlog.TreeProof, error) {
	if m == 0 || m > cur.Size {
		return nil, nil
	}
	return tlog.ProveTree(cur.Size, m, l.c.HashReader(ctx, cur))
}

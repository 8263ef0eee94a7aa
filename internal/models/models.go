// Package models keeps the registry of models trained on snapshots: which
// model was trained on which snapshots, each registration one ledger entry.
// A person's "my data" view reads it to say which models their content
// reached.
package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
)

// Refusal codes, stable for the API.
const (
	CodeNameRequired      = "model_name_required"
	CodeNameInvalid       = "model_name_invalid"
	CodeSnapshotsRequired = "snapshots_required"
	CodeSnapshotUnknown   = "snapshot_unknown"
	CodeTrainedAtInvalid  = "trained_at_invalid"
)

// Codes lists every refusal code.
func Codes() []string {
	return []string{CodeNameRequired, CodeNameInvalid, CodeSnapshotsRequired, CodeSnapshotUnknown, CodeTrainedAtInvalid}
}

// Limits on a registration.
const (
	MaxName      = 200
	MaxSnapshots = 1000
)

// Error is a refused registration.
type Error struct {
	Code    string
	Field   string
	Missing []string // unknown snapshot ids, for CodeSnapshotUnknown
}

func (e *Error) Error() string {
	if len(e.Missing) > 0 {
		return fmt.Sprintf("models: %s: %s", e.Code, strings.Join(e.Missing, ", "))
	}
	return "models: " + e.Code
}

// Input is a registration.
type Input struct {
	Name      string
	Snapshots []string
	TrainedAt time.Time // zero: not given
}

// Model is a registered model.
type Model = store.Model

// check validates the input and returns the distinct, sorted snapshot ids.
func check(in Input) ([]string, error) {
	switch {
	case strings.TrimSpace(in.Name) == "":
		return nil, &Error{Code: CodeNameRequired, Field: "name"}
	case utf8.RuneCountInString(in.Name) > MaxName || !plain(in.Name):
		return nil, &Error{Code: CodeNameInvalid, Field: "name"}
	case len(in.Snapshots) == 0:
		return nil, &Error{Code: CodeSnapshotsRequired, Field: "snapshots"}
	case len(in.Snapshots) > MaxSnapshots:
		return nil, &Error{Code: CodeSnapshotUnknown, Field: "snapshots"}
	}
	snaps := slices.Clone(in.Snapshots)
	for _, s := range snaps {
		if s == "" || len(s) > 200 || !plain(s) {
			return nil, &Error{Code: CodeSnapshotUnknown, Field: "snapshots", Missing: []string{s}}
		}
	}
	slices.Sort(snaps)
	return slices.Compact(snaps), nil
}

func plain(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// Register records a model trained on snapshots, with its ledger entry, in
// one transaction. It refuses, writing nothing, when any snapshot is not
// registered.
func Register(ctx context.Context, db *store.DB, in Input, now time.Time) (Model, error) {
	snaps, err := check(in)
	if err != nil {
		return Model{}, err
	}
	m := Model{ID: "mdl_" + ids.Ordered(), Name: in.Name, Snapshots: snaps, TrainedAt: in.TrainedAt.UTC(), RegisteredAt: now.UTC()}
	trained := ""
	if !in.TrainedAt.IsZero() {
		trained = m.TrainedAt.Format(time.RFC3339Nano)
	}
	err = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		missing, err := tx.MissingSnapshots(ctx, snaps)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return &Error{Code: CodeSnapshotUnknown, Field: "snapshots", Missing: missing}
		}
		e, err := tx.RegisterModel(ctx, m, ledger.ModelRegistered{Model: m.ID, Name: m.Name, Snapshots: snaps, TrainedAt: trained})
		m.LedgerSeq = e.Seq
		return err
	})
	if err != nil {
		return Model{}, err
	}
	return m, nil
}

// ParseTrainedAt reads an RFC 3339 time; "" is no time.
func ParseTrainedAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &Error{Code: CodeTrainedAtInvalid, Field: "trained_at"}
	}
	return t.UTC(), nil
}

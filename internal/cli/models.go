package cli

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/models"
)

// modelsRegister records a model trained on registered snapshots.
func modelsRegister(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var name, trainedAt string
	var snaps list
	f := newFlags("models register", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&name, "name", "", "model name")
	f.Var(&snaps, "snapshot", "id of a snapshot the model was trained on (repeatable)")
	f.StringVar(&trainedAt, "trained-at", "", "when the model was trained (RFC 3339)")
	if err := f.parse(args); err != nil {
		return err
	}
	if name == "" || len(snaps) == 0 || len(f.args) > 0 {
		return usageError{"usage: notrain models register --name NAME --snapshot ID… [--trained-at T] [--db …]"}
	}
	at, err := models.ParseTrainedAt(trainedAt)
	if err != nil {
		return usageError{fmt.Sprintf("--trained-at %q is not an RFC 3339 time", trainedAt)}
	}
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := s.existingLogKey(ctx, db); err != nil {
		return err
	}
	m, err := models.Register(ctx, db, models.Input{Name: name, Snapshots: snaps, TrainedAt: at}, env.Now())
	if err != nil {
		return fmt.Errorf("%w (nothing was registered)", err)
	}
	fmt.Fprintln(env.Stdout, m.ID)
	return nil
}

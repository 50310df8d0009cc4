package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestOperatorAddStoresBcryptHash(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	shop, _, err := db.EnsureShop(ctx, "operator-add", "Operator Add Shop")
	if err != nil {
		t.Fatalf("create shop: %v", err)
	}
	t.Setenv("TEST_OPERATOR_PASSWORD", "a long enough secret")

	stdout, stderr, err := runCommand(t, "operator", "add", "--database-url", pgtest.URL(t), "--log-level", "warn",
		"--shop", shop.Slug, "--email", "dana@example.com", "--name", "Dana", "--role", "admin", "--password-env", "TEST_OPERATOR_PASSWORD")
	if err != nil {
		t.Fatalf("operator add: %v\nstderr:\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "added admin Dana <dana@example.com> to shop operator-add") {
		t.Errorf("stdout %q does not confirm the new operator", stdout)
	}
	op, err := db.OperatorByEmail(ctx, shop.ID, "dana@example.com")
	if err != nil {
		t.Fatalf("load operator: %v", err)
	}
	if op.Role != "admin" || op.Name != "Dana" {
		t.Errorf("operator %+v, want admin Dana", op)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(op.PasswordHash), []byte("a long enough secret")); err != nil {
		t.Errorf("stored hash does not match the password: %v", err)
	}

	// The password may come from standard input instead.
	var out, errOut bytes.Buffer
	err = run(ctx, []string{"operator", "add", "--database-url", pgtest.URL(t), "--log-level", "warn",
		"--shop", shop.Slug, "--email", "sam@example.com", "--name", "Sam"}, strings.NewReader("typed on stdin\n"), &out, &errOut)
	if err != nil {
		t.Fatalf("operator add with stdin password: %v\nstderr:\n%s", err, errOut.String())
	}
	sam, err := db.OperatorByEmail(ctx, shop.ID, "sam@example.com")
	if err != nil {
		t.Fatalf("load operator read from stdin: %v", err)
	}
	if sam.Role != "operator" {
		t.Errorf("default role %q, want operator", sam.Role)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(sam.PasswordHash), []byte("typed on stdin")); err != nil {
		t.Errorf("stored hash does not match the stdin password: %v", err)
	}

	_, _, err = runCommand(t, "operator", "add", "--database-url", pgtest.URL(t), "--log-level", "warn",
		"--shop", shop.Slug, "--email", "DANA@example.com", "--name", "Dana again", "--password-env", "TEST_OPERATOR_PASSWORD")
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate email error %v, want one saying the operator already exists", err)
	}
}

func TestOperatorAddRejectsBadFlags(t *testing.T) {
	t.Setenv("TEST_OPERATOR_PASSWORD", "a long enough secret")
	t.Setenv("TEST_SHORT_PASSWORD", "short")
	base := []string{"operator", "add", "--database-url", pgtest.URL(t)}
	if _, _, err := openDB(t).EnsureShop(context.Background(), "operator-flags", ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"operator"}, "missing operator subcommand"},
		{"unknown subcommand", []string{"operator", "remove"}, `unknown operator subcommand "remove"`},
		{"missing shop", append(base, "--email", "a@example.com", "--name", "A"), "missing --shop"},
		{"bad role", append(base, "--shop", "demo", "--email", "a@example.com", "--name", "A", "--role", "owner"), `invalid --role "owner"`},
		{"bad email", append(base, "--shop", "demo", "--email", "not-an-email", "--name", "A"), `invalid --email "not-an-email"`},
		{"missing name", append(base, "--shop", "demo", "--email", "a@example.com"), "missing --name"},
		{"unset password env", append(base, "--shop", "demo", "--email", "a@example.com", "--name", "A", "--password-env", "TEST_UNSET_PASSWORD_VAR"), "TEST_UNSET_PASSWORD_VAR"},
		{"short password", append(base, "--shop", "demo", "--email", "a@example.com", "--name", "A", "--password-env", "TEST_SHORT_PASSWORD"), "at least 10"},
		{"empty stdin", append(base, "--shop", "operator-flags", "--email", "a@example.com", "--name", "A"), "missing password"},
	}
	for _, tc := range cases {
		_, _, err := runCommand(t, tc.args...)
		var usage usageError
		if !errors.As(err, &usage) {
			t.Errorf("%s: error %v, want a usage error", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestOperatorAddChecksShopBeforePassword(t *testing.T) {
	_, stderr, err := runCommand(t, "operator", "add", "--database-url", pgtest.URL(t), "--log-level", "warn",
		"--shop", "no-such-shop", "--email", "a@example.com", "--name", "A")
	if err == nil || !strings.Contains(err.Error(), `shop "no-such-shop" not found`) {
		t.Errorf("error %v, want shop not found", err)
	}
	if strings.Contains(stderr, "Password") {
		t.Errorf("asked for a password before checking the shop:\n%s", stderr)
	}
}

func TestOperatorSetChangesRoleAndPassword(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	shop, _, err := db.EnsureShop(ctx, "operator-set", "Operator Set Shop")
	if err != nil {
		t.Fatalf("create shop: %v", err)
	}
	t.Setenv("TEST_OPERATOR_PASSWORD", "a long enough secret")
	t.Setenv("TEST_NEW_PASSWORD", "another long secret")
	base := []string{"--database-url", pgtest.URL(t), "--log-level", "warn", "--shop", shop.Slug}
	if _, stderr, err := runCommand(t, append([]string{"operator", "add", "--email", "ana@example.com", "--name", "Ana", "--role", "admin", "--password-env", "TEST_OPERATOR_PASSWORD"}, base...)...); err != nil {
		t.Fatalf("operator add: %v\n%s", err, stderr)
	}

	// The only admin cannot become an operator.
	_, _, err = runCommand(t, append([]string{"operator", "set", "--email", "ana@example.com", "--role", "operator"}, base...)...)
	if err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Errorf("demoting the last admin: err = %v, want one saying so", err)
	}

	stdout, stderr, err := runCommand(t, append([]string{"operator", "set", "--email", "ANA@example.com", "--password-env", "TEST_NEW_PASSWORD"}, base...)...)
	if err != nil {
		t.Fatalf("operator set: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "new password set") {
		t.Errorf("stdout %q does not confirm the new password", stdout)
	}
	op, err := db.OperatorByEmail(ctx, shop.ID, "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(op.PasswordHash), []byte("another long secret")) != nil {
		t.Error("stored hash does not match the new password")
	}

	_, _, err = runCommand(t, append([]string{"operator", "set", "--email", "nobody@example.com", "--role", "admin"}, base...)...)
	if err == nil || !strings.Contains(err.Error(), "no operator nobody@example.com") {
		t.Errorf("unknown operator: err = %v, want one naming the email", err)
	}
	_, _, err = runCommand(t, append([]string{"operator", "set", "--email", "ana@example.com"}, base...)...)
	if err == nil || !strings.Contains(err.Error(), "nothing to change") {
		t.Errorf("no change flags: err = %v, want a usage error", err)
	}
}

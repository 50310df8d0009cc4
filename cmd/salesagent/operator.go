package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/console"
	"github.com/salesagent/salesagent/postgres"
)

const operatorUsage = `Usage:
  salesagent operator add --shop SLUG --email EMAIL --name NAME [--role admin|operator] [--password-env VAR]
  salesagent operator set --shop SLUG --email EMAIL [--role admin|operator] [--password | --password-env VAR]

add creates an operator; set changes an operator's role or password (a new
password signs them out everywhere). Without --password-env, a password is
read from the first line of standard input.
`

func runOperator(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "set" {
		return runOperatorSet(ctx, args[1:], stdin, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprint(stderr, operatorUsage)
		if len(args) == 0 {
			return usageError{"missing operator subcommand: use salesagent operator add or set"}
		}
		return usageError{fmt.Sprintf("unknown operator subcommand %q: use salesagent operator add or set", args[0])}
	}

	var cfg Config
	var slug, email, name, role, passwordEnv string
	fs := flag.NewFlagSet("operator add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg)
	fs.StringVar(&slug, "shop", "", "slug of the operator's shop (required)")
	fs.StringVar(&email, "email", "", "operator's email, used to log in to the console (required)")
	fs.StringVar(&name, "name", "", "operator's name as shoppers see it, as in \"Dana joined the conversation\" (required)")
	fs.StringVar(&role, "role", postgres.OperatorRoleOperator, "operator's role: admin or operator")
	fs.StringVar(&passwordEnv, "password-env", "", "read the password from this environment variable instead of standard input")
	fs.Usage = func() {
		fmt.Fprint(stderr, operatorUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := checkOperatorFlags(fs, slug, email, name, role); err != nil {
		return err
	}

	// A password from the environment is checked first, with the flags. A
	// typed one is read after the shop is found, so that a wrong slug does
	// not waste it.
	var hash string
	if passwordEnv != "" {
		var err error
		if hash, err = operatorPasswordHash(passwordEnv, stdin, stderr); err != nil {
			return err
		}
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	shop, err := loadShop(ctx, db, slug)
	if err != nil {
		return err
	}

	if hash == "" {
		if hash, err = operatorPasswordHash(passwordEnv, stdin, stderr); err != nil {
			return err
		}
	}
	op, err := db.CreateOperator(ctx, shop.ID, email, strings.TrimSpace(name), role, hash)
	if salesagent.ErrorCode(err) == salesagent.ECONFLICT {
		return fmt.Errorf("operator %s already exists in shop %q: choose another email", email, slug)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s %s <%s> to shop %s (operator id %d)\n", op.Role, op.Name, op.Email, shop.Slug, op.ID)
	return nil
}

// runOperatorSet changes an existing operator's role or password.
func runOperatorSet(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg Config
	var slug, email, role, passwordEnv string
	var newPassword bool
	fs := flag.NewFlagSet("operator set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg)
	fs.StringVar(&slug, "shop", "", "slug of the operator's shop (required)")
	fs.StringVar(&email, "email", "", "email the operator logs in with (required)")
	fs.StringVar(&role, "role", "", "new role: admin or operator")
	fs.BoolVar(&newPassword, "password", false, "set a new password, read from the first line of standard input")
	fs.StringVar(&passwordEnv, "password-env", "", "set a new password, read from this environment variable")
	fs.Usage = func() {
		fmt.Fprint(stderr, operatorUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected argument %q: operator set takes only flags", fs.Arg(0))}
	case slug == "" || email == "":
		return usageError{"missing --shop or --email: name the operator to change, as in --shop demo --email dana@example.com"}
	case role != "" && role != postgres.OperatorRoleAdmin && role != postgres.OperatorRoleOperator:
		return usageError{fmt.Sprintf("invalid --role %q: use admin or operator", role)}
	case role == "" && !newPassword && passwordEnv == "":
		return usageError{"nothing to change: give --role, --password or --password-env"}
	}

	var change postgres.OperatorChange
	if role != "" {
		change.Role = &role
	}
	if newPassword || passwordEnv != "" {
		password, err := readOperatorPassword(passwordEnv, stdin, stderr)
		if err != nil {
			return err
		}
		hash, err := console.HashPassword(password)
		if err != nil {
			return usageError{salesagent.ErrorMessage(err)}
		}
		change.PasswordHash = &hash
	}

	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	shop, err := loadShop(ctx, db, slug)
	if err != nil {
		return err
	}
	op, err := db.UpdateOperator(ctx, shop.ID, email, change)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return fmt.Errorf("no operator %s in shop %q: check the email, or add one with salesagent operator add", email, slug)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "updated %s %s <%s> in shop %s", op.Role, op.Name, op.Email, shop.Slug)
	if change.PasswordHash != nil {
		fmt.Fprint(stdout, "; new password set and old sessions ended")
	}
	fmt.Fprintln(stdout)
	return nil
}

// checkOperatorFlags validates the flags of operator add.
func checkOperatorFlags(fs *flag.FlagSet, slug, email, name, role string) error {
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected argument %q: operator add takes only flags", fs.Arg(0))}
	case slug == "":
		return usageError{"missing --shop SLUG: name the operator's shop, for example --shop demo"}
	case !salesagent.ValidSlug(slug):
		return usageError{fmt.Sprintf("invalid --shop %q: use 1 to 63 lowercase letters, digits and hyphens, as in --shop my-store", slug)}
	case email == "":
		return usageError{"missing --email: give the address the operator logs in with"}
	case strings.TrimSpace(name) == "":
		return usageError{"missing --name: give the name shoppers see when the operator joins"}
	case role != postgres.OperatorRoleAdmin && role != postgres.OperatorRoleOperator:
		return usageError{fmt.Sprintf("invalid --role %q: use admin or operator", role)}
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return usageError{fmt.Sprintf("invalid --email %q: use a plain address such as dana@example.com", email)}
	}
	return nil
}

// operatorPasswordHash reads the password as readOperatorPassword does and
// hashes it.
func operatorPasswordHash(variable string, stdin io.Reader, stderr io.Writer) (string, error) {
	password, err := readOperatorPassword(variable, stdin, stderr)
	if err != nil {
		return "", err
	}
	hash, err := console.HashPassword(password)
	if err != nil {
		return "", usageError{salesagent.ErrorMessage(err)}
	}
	return hash, nil
}

// readOperatorPassword reads the password from the environment variable,
// or from the first line of stdin when variable is empty.
func readOperatorPassword(variable string, stdin io.Reader, stderr io.Writer) (string, error) {
	if variable != "" {
		password, ok := os.LookupEnv(variable)
		if !ok || password == "" {
			return "", usageError{fmt.Sprintf("invalid --password-env %s: that environment variable is empty or unset", variable)}
		}
		return password, nil
	}
	// On a terminal the password is asked for and not echoed; piped in,
	// it is read without a prompt.
	var line string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		typed, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password from the terminal: %w", err)
		}
		line = string(typed)
	} else {
		read, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		line = read
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", usageError{"missing password: type it on standard input or use --password-env VAR"}
	}
	return password, nil
}

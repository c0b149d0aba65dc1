package client

import (
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestErrorsMatchSentinels(t *testing.T) {
	for code, want := range sentinels {
		err := fmt.Errorf("context: %w", wrap(connect.NewError(code, errors.New("boom"))))
		if !errors.Is(err, want) {
			t.Errorf("%v does not match %v", code, want)
		}
		if connect.CodeOf(err) != code {
			t.Errorf("connect.CodeOf(%v) = %v", err, connect.CodeOf(err))
		}
		for _, other := range sentinels {
			if other != want && errors.Is(err, other) {
				t.Errorf("%v matches %v too", code, other)
			}
		}
	}
	if err := wrap(connect.NewError(connect.CodeInternal, errors.New("x"))); errors.Is(err, ErrNotFound) {
		t.Errorf("internal matches not found")
	}
	if wrap(nil) != nil {
		t.Error("wrap(nil) != nil")
	}
}

func TestProcessingFailureDetail(t *testing.T) {
	ce := connect.NewError(connect.CodeAborted, errors.New("stage count failed"))
	d, err := connect.NewErrorDetail(&squallv1.AppendProcessingFailure{Partition: 3, Offset: 9, Failures: []string{"count: boom"}})
	if err != nil {
		t.Fatal(err)
	}
	ce.AddDetail(d)
	var e *Error
	if err := wrap(ce); !errors.Is(err, ErrProcessingFailed) || !errors.As(err, &e) || e.Failure == nil ||
		e.Failure.Partition != 3 || e.Failure.Offset != 9 || e.Failure.Failures[0] != "count: boom" {
		t.Errorf("got %#v", err)
	}
}

func TestErrorText(t *testing.T) {
	e := wrap(connect.NewError(connect.CodeUnauthenticated, errors.New("missing token: send Authorization: Bearer TOKEN")))
	if got := e.Error(); got != "unauthenticated: missing token: send Authorization: Bearer TOKEN (pass the node's token: --token or SQUALL_TOKEN, client.WithToken)" {
		t.Errorf("got %q", got)
	}
	if _, err := New("127.0.0.1:7790"); err == nil {
		t.Error("an address without a scheme is accepted")
	}
}

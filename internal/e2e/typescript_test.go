package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/engine"
)

// throwModule is a TypeScript module whose stage throws, from a helper in
// src/check.ts, line 4, on the record "boom" (retried, then
// dead-lettered), and poisons the record "bad" from src/index.ts.
var throwModule = map[string]string{
	"tsconfig.json": `{"compilerOptions": {"strict": true, "target": "ES2020", "module": "ESNext", "moduleResolution": "Bundler", "lib": ["ES2020"], "noEmit": true, "skipLibCheck": true}, "include": ["src"]}`,
	"src/check.ts": `// Checks an event's text.
export function check(text: string): string {
  if (text === "boom") {
    throw new RangeError("throwmod: refusing " + text);
  }
  return text.toUpperCase();
}
`,
	"src/index.ts": `import { defineModule, hashRecord, key, poison, schema } from "@squall/sdk";
import { check } from "./check";

export default defineModule("throwmod", (m) => {
  const events = m.depot<string>("events", hashRecord());
  const seen = m.pstate<string, string>("$$seen", schema.mapOf(schema.string, schema.string));
  const t = m.stream("main");
  const onEvent = t.stage<string>("onEvent", (ctx, text) => {
    if (text === "bad") throw poison("throwmod: bad input");
    ctx.transform(seen, key(text).set(check(text)));
  });
  t.source(events, onEvent);
});
`,
}

// TestTypeScriptStageErrors deploys throwModule: the exception a stage
// throws reaches the ACK appender and the dead letter with its stack
// mapped to the TypeScript source (src/check.ts:4), a poison is
// dead-lettered at once, and other records are processed.
func TestTypeScriptStageErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a TypeScript module with npm, tsc, esbuild and the QuickJS runtime")
	}
	sdk, err := filepath.Abs(filepath.Join(repoRoot(t), "guest-sdks/typescript"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{"package.json": `{"name": "throwmod", "private": true, "dependencies": {"@squall/sdk": "file:` + sdk + `"}}`}
	for k, v := range throwModule {
		files[k] = v
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "throwmod.wasm")
	if err := build.TypeScript(context.Background(), dir, out); err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	cfg.Logger = quietLogger() // the failures are expected
	n := newNode(t, cfg)
	n.deployWasm("throwmod", wasm)

	for _, s := range []string{"a", "boom", "bad", "b"} {
		n.append("throwmod", "events", abi.String(s), engine.AckNone)
	}
	_, err = n.tryAppend("throwmod", "events", abi.String("boom"), engine.AckAck)
	var perr *engine.ProcessingError
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), "throwmod: refusing boom") {
		t.Errorf("ACK append of boom: %v, want a processing error with the stage's message", err)
	}
	n.waitIdle("throwmod", time.Minute)
	for k, want := range map[string]abi.Value{"a": abi.String("A"), "b": abi.String("B"), "boom": abi.Nil(), "bad": abi.Nil()} {
		if got := n.sel("throwmod", "$$seen", abi.P().Key(abi.String(k))); len(got) != 1 || !abi.Equal(got[0], want) {
			t.Errorf("$$seen %s = %v, want %v", k, got, want)
		}
	}
	// Wait for the three dead letters, not only for the lag: once (of many
	// runs, under load) the dead letter of the first "boom" was not visible
	// yet when the lag was already 0.
	dls := n.deadLetters("throwmod")
	for deadline := time.Now().Add(30 * time.Second); len(dls) < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		dls = n.deadLetters("throwmod")
	}
	var boom, bad int
	defer func() {
		if boom != 2 || bad != 1 {
			for _, dl := range dls {
				t.Logf("dead letter: %s %v after %d attempts: %s: %+v", dl.Stage, dl.Payload, dl.Attempts, dl.Reason, dl.Error)
			}
		}
	}()
	for _, dl := range dls {
		text, _ := dl.Payload.AsString()
		switch text {
		case "boom":
			boom++
			if !strings.Contains(dl.Error.Message, "throwmod: refusing boom") || !strings.Contains(dl.Error.Stack, "at check (src/check.ts:4:") ||
				!strings.Contains(dl.Error.Stack, "(src/index.ts:10:") || !strings.Contains(dl.Error.Stack, "(@squall/sdk/src/") {
				t.Errorf("dead letter of boom: %+v, want a stack through src/check.ts:4, src/index.ts:10 and the SDK", dl.Error)
			}
			if dl.Attempts != cfg.MaxAttempts {
				t.Errorf("boom dead-lettered after %d attempts, want %d", dl.Attempts, cfg.MaxAttempts)
			}
		case "bad":
			bad++
			if !strings.Contains(dl.Error.Message, "throwmod: bad input") || dl.Attempts >= cfg.MaxAttempts {
				t.Errorf("dead letter of bad: %+v after %d attempts, want the poison at once", dl.Error, dl.Attempts)
			}
		default:
			t.Errorf("unexpected dead letter %v: %+v", dl.Payload, dl.Error)
		}
	}
	if boom != 2 || bad != 1 {
		t.Errorf("%d dead letters of boom and %d of bad, want 2 and 1", boom, bad)
	}
}

// Command statecast-porcupine checks a key/value history for linearizability with
// Porcupine (github.com/anishathalye/porcupine).
//
// Input (stdin or -history FILE), times in nanoseconds, "return" null for an operation
// that never answered or whose outcome is unknown (it may take effect at any time after
// its call, or never):
//
//	{"operations": [{"client": 0, "kind": "put|get|delete|increment", "key": "k",
//	  "value": "<JSON text of a put>" | <increment amount>, "output": <see below>,
//	  "call": 1, "return": 2}]}
//
// Outputs: get: the value's JSON text, or null when not found; increment: the new total,
// or "conflict"; delete: "ok" or "not_found"; put: null.
//
// Operations with no answer that ask the same thing (same key, kind and value) are
// interchangeable, so the model lets them take effect only in the order of their calls
// (each carries its rank; the state counts how many of its kind took effect): the search
// then tries k + 1 of their subsets instead of 2^k, and stays exact (swapping two such
// operations in a valid order gives a valid order).
//
// Prints {"result": "Ok|Illegal|Unknown", "operations": N, "keys": K} and, with -html
// FILE, writes Porcupine's visualisation of the history there when it is not Ok.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

type record struct {
	Client int             `json:"client"`
	Kind   string          `json:"kind"`
	Key    string          `json:"key"`
	Value  json.RawMessage `json:"value"`
	Output json.RawMessage `json:"output"`
	Call   int64           `json:"call"`
	Return *int64          `json:"return"`
}

// input is what an operation asked; unknown marks an operation with no answer.
type input struct {
	kind    string
	key     string
	text    string
	by      int64
	unknown bool
	alike   string // unknown: the operations it is interchangeable with
	rank    int    // unknown: how many alike ones were called before it
}

// output is what it answered: found/text for a get, n for an increment, word otherwise.
type output struct {
	found bool
	text  string
	n     int64
	word  string
}

// state of one key: absent, a JSON value (text) or a counter (n); taken counts the
// unknown operations of each alike group that took effect (group, NUL, n; joined by 0x02).
type state struct {
	kind  int // 0 absent, 1 value, 2 counter
	text  string
	n     int64
	taken string
}

// count is how many operations of group took effect.
func (s state) count(group string) int {
	for _, part := range strings.Split(s.taken, "\x02") {
		if name, n, ok := strings.Cut(part, "\x00"); ok && name == group {
			value, _ := strconv.Atoi(n)
			return value
		}
	}
	return 0
}

// took is s with one more operation of group taken.
func (s state) took(group string) state {
	parts := []string{}
	for _, part := range strings.Split(s.taken, "\x02") {
		if name, _, ok := strings.Cut(part, "\x00"); ok && name != group {
			parts = append(parts, part)
		}
	}
	parts = append(parts, group+"\x00"+strconv.Itoa(s.count(group)+1))
	sort.Strings(parts)
	s.taken = strings.Join(parts, "\x02")
	return s
}

func parse(r record) (porcupine.Operation, error) {
	in := input{kind: r.Kind, key: r.Key, unknown: r.Return == nil}
	out := output{}
	switch r.Kind {
	case "put":
		if err := json.Unmarshal(r.Value, &in.text); err != nil {
			return porcupine.Operation{}, fmt.Errorf("put value: %w", err)
		}
	case "increment":
		if err := json.Unmarshal(r.Value, &in.by); err != nil {
			return porcupine.Operation{}, fmt.Errorf("increment amount: %w", err)
		}
	}
	if !in.unknown && len(r.Output) > 0 && string(r.Output) != "null" {
		switch r.Kind {
		case "get":
			out.found = true
			if err := json.Unmarshal(r.Output, &out.text); err != nil {
				return porcupine.Operation{}, fmt.Errorf("get output: %w", err)
			}
		case "increment":
			if json.Unmarshal(r.Output, &out.n) != nil {
				if err := json.Unmarshal(r.Output, &out.word); err != nil {
					return porcupine.Operation{}, fmt.Errorf("increment output: %w", err)
				}
			}
		default:
			if err := json.Unmarshal(r.Output, &out.word); err != nil {
				return porcupine.Operation{}, fmt.Errorf("%s output: %w", r.Kind, err)
			}
		}
	}
	ret := int64(math.MaxInt64)
	if r.Return != nil {
		ret = *r.Return
	}
	return porcupine.Operation{ClientId: r.Client, Input: in, Call: r.Call, Output: out, Return: ret}, nil
}

func step(s interface{}, i interface{}, o interface{}) (bool, interface{}) {
	st, in, out := s.(state), i.(input), o.(output)
	if in.unknown {
		if st.count(in.alike) != in.rank {
			return false, st // an alike operation called earlier takes effect first
		}
		ok, after := apply(st, in, out)
		return ok, after.(state).took(in.alike)
	}
	return apply(st, in, out)
}

func apply(st state, in input, out output) (bool, interface{}) {
	switch in.kind {
	case "put":
		return true, state{kind: 1, text: in.text, taken: st.taken}
	case "get":
		if in.unknown {
			return true, st
		}
		if !out.found {
			return st.kind == 0, st
		}
		if st.kind == 1 {
			return out.text == st.text, st
		}
		return st.kind == 2 && out.text == fmt.Sprint(st.n), st
	case "delete":
		ok := in.unknown || (out.word == "not_found") == (st.kind == 0)
		return ok, state{taken: st.taken}
	case "increment":
		if st.kind == 1 {
			return in.unknown || out.word == "conflict", st
		}
		after := state{kind: 2, n: st.n + in.by, taken: st.taken}
		return in.unknown || (out.word == "" && out.n == after.n), after
	}
	return false, st
}

var model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			key := op.Input.(input).key
			if _, seen := byKey[key]; !seen {
				keys = append(keys, key)
			}
			byKey[key] = append(byKey[key], op)
		}
		parts := make([][]porcupine.Operation, 0, len(keys))
		for _, key := range keys {
			parts = append(parts, byKey[key])
		}
		return parts
	},
	Init:  func() interface{} { return state{} },
	Step:  step,
	Equal: func(a, b interface{}) bool { return a.(state) == b.(state) },
	DescribeOperation: func(i interface{}, o interface{}) string {
		in, out := i.(input), o.(output)
		suffix := ""
		if in.unknown {
			suffix = " (no answer)"
		}
		switch in.kind {
		case "put":
			return fmt.Sprintf("put(%s, %s)%s", in.key, in.text, suffix)
		case "get":
			if !out.found && !in.unknown {
				return fmt.Sprintf("get(%s) -> not found", in.key)
			}
			return fmt.Sprintf("get(%s) -> %s%s", in.key, out.text, suffix)
		case "increment":
			if out.word != "" {
				return fmt.Sprintf("increment(%s, %d) -> %s%s", in.key, in.by, out.word, suffix)
			}
			return fmt.Sprintf("increment(%s, %d) -> %d%s", in.key, in.by, out.n, suffix)
		}
		return fmt.Sprintf("%s(%s) -> %s%s", in.kind, in.key, out.word, suffix)
	},
	DescribeState: func(s interface{}) string {
		st := s.(state)
		switch st.kind {
		case 1:
			return st.text
		case 2:
			return fmt.Sprint(st.n)
		}
		return "(absent)"
	},
}

// rankAlike gives each unknown operation its group and its rank by call time in it.
func rankAlike(history []porcupine.Operation) {
	order := make([]int, len(history))
	for n := range order {
		order[n] = n
	}
	sort.SliceStable(order, func(a, b int) bool { return history[order[a]].Call < history[order[b]].Call })
	called := map[string]int{}
	for _, n := range order {
		in := history[n].Input.(input)
		if !in.unknown {
			continue
		}
		in.alike = fmt.Sprintf("%s\x01%s\x01%s\x01%d", in.key, in.kind, in.text, in.by)
		in.rank = called[in.alike]
		called[in.alike]++
		history[n].Input = in
	}
}

func main() {
	historyPath := flag.String("history", "-", "the history (JSON), - for stdin")
	htmlPath := flag.String("html", "", "write the visualisation here when the history is not Ok")
	timeout := flag.Duration("timeout", time.Minute, "give up (Unknown) after this long")
	flag.Parse()
	var reader io.Reader = os.Stdin
	if *historyPath != "-" {
		file, err := os.Open(*historyPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer file.Close()
		reader = file
	}
	var doc struct {
		Operations []record `json:"operations"`
	}
	if err := json.NewDecoder(reader).Decode(&doc); err != nil {
		fmt.Fprintln(os.Stderr, "bad history:", err)
		os.Exit(2)
	}
	history := make([]porcupine.Operation, 0, len(doc.Operations))
	keys := map[string]bool{}
	for n, r := range doc.Operations {
		op, err := parse(r)
		if err != nil {
			fmt.Fprintf(os.Stderr, "operation %d: %v\n", n, err)
			os.Exit(2)
		}
		keys[r.Key] = true
		history = append(history, op)
	}
	rankAlike(history)
	result, info := porcupine.CheckOperationsVerbose(model, history, *timeout)
	if result != porcupine.Ok && *htmlPath != "" {
		if err := porcupine.VisualizePath(model, info, *htmlPath); err != nil {
			fmt.Fprintln(os.Stderr, "visualisation:", err)
		}
	}
	answer, _ := json.Marshal(map[string]interface{}{
		"result": string(result), "operations": len(history), "keys": len(keys),
	})
	fmt.Println(string(answer))
}

package terraform

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// plan is `terraform show -json` of one plan, indexed.
type plan struct {
	name    string
	vars    map[string]any       // every variable's value, defaults included
	res     map[string]*resource // managed resources, by address
	data    map[string]map[string]any
	outputs map[string]any            // known output values
	config  map[string]map[string]any // expressions by address (no index)
	raw     planJSON
}

type resource struct {
	Address, Type, Name string
	After, Unknown      map[string]any
}

type planJSON struct {
	Variables map[string]struct {
		Value any `json:"value"`
	} `json:"variables"`
	ResourceChanges []struct {
		Address string `json:"address"`
		Mode    string `json:"mode"`
		Type    string `json:"type"`
		Name    string `json:"name"`
		Change  struct {
			Actions      []string       `json:"actions"`
			After        map[string]any `json:"after"`
			AfterUnknown map[string]any `json:"after_unknown"`
		} `json:"change"`
	} `json:"resource_changes"`
	PriorState struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Mode    string         `json:"mode"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	} `json:"prior_state"`
	PlannedValues struct {
		Outputs map[string]struct {
			Value any `json:"value"`
		} `json:"outputs"`
	} `json:"planned_values"`
	Configuration struct {
		ProviderConfig map[string]struct {
			VersionConstraint string `json:"version_constraint"`
		} `json:"provider_config"`
		RootModule struct {
			Resources []struct {
				Address     string         `json:"address"`
				Expressions map[string]any `json:"expressions"`
			} `json:"resources"`
		} `json:"root_module"`
	} `json:"configuration"`
}

func parsePlan(name string, js []byte) (*plan, error) {
	p := &plan{name: name, vars: map[string]any{}, res: map[string]*resource{}, data: map[string]map[string]any{},
		outputs: map[string]any{}, config: map[string]map[string]any{}}
	if err := json.Unmarshal(js, &p.raw); err != nil {
		return nil, fmt.Errorf("plan %s: %w", name, err)
	}
	for k, v := range p.raw.Variables {
		p.vars[k] = v.Value
	}
	for _, rc := range p.raw.ResourceChanges {
		if rc.Mode == "data" {
			p.data[rc.Address] = rc.Change.After
			continue
		}
		if !slices.Equal(rc.Change.Actions, []string{"create"}) {
			return nil, fmt.Errorf("plan %s: %s is to be %v, not created", name, rc.Address, rc.Change.Actions)
		}
		p.res[rc.Address] = &resource{Address: rc.Address, Type: rc.Type, Name: rc.Name, After: rc.Change.After, Unknown: rc.Change.AfterUnknown}
	}
	for _, r := range p.raw.PriorState.Values.RootModule.Resources {
		if r.Mode == "data" {
			p.data[r.Address] = r.Values
		}
	}
	for k, o := range p.raw.PlannedValues.Outputs {
		if o.Value != nil {
			p.outputs[k] = o.Value
		}
	}
	for _, r := range p.raw.Configuration.RootModule.Resources {
		p.config[r.Address] = r.Expressions
	}
	return p, nil
}

// byType lists the planned resources of a type, by address.
func (p *plan) byType(typ string) []*resource {
	var out []*resource
	for _, r := range p.res {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// one is the planned resource at address.
func (p *plan) one(t *testing.T, address string) *resource {
	t.Helper()
	r := p.res[address]
	if r == nil {
		t.Fatalf("plan %s has no %s", p.name, address)
	}
	return r
}

func (p *plan) str(name string) string { s, _ := p.vars[name].(string); return s }
func (p *plan) num(name string) float64 {
	f, _ := p.vars[name].(float64)
	return f
}
func (p *plan) compaction() bool { return p.str("compaction_schedule") != "" }

// committer: the table's committer is deployed (iceberg.tf).
func (p *plan) committer() bool {
	return p.vars["iceberg_table"] == true && p.vars["iceberg_committer"] == true
}

// get walks maps (string keys) and lists (int indexes); nil where the path
// is missing.
func get(v any, path ...any) any {
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// refs are the references of a configured expression: the attribute at
// path of the resource at address (without index), blocks as lists.
func (p *plan) refs(t *testing.T, address string, path ...any) []string {
	t.Helper()
	e, ok := p.config[address]
	if !ok {
		t.Fatalf("plan %s: no configuration of %s", p.name, address)
	}
	return strs(get(get(e, path...), "references"))
}

// forEach runs check on every successful plan, as a subtest.
func forEach(t *testing.T, check func(t *testing.T, p *plan)) {
	t.Helper()
	ps := plans(t)
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) { check(t, ps[n]) })
	}
}

// policy is an IAM policy document as AWS receives it.
type policy struct {
	Statement []statement
}

type statement struct {
	Sid       string
	Effect    string
	Action    list
	NotAction list
	Resource  list
	Principal map[string]list
	Condition map[string]map[string]list
}

// list is a policy element that is a string or a list of strings.
type list []string

func (l *list) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*l = list{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

func (s *statement) UnmarshalJSON(b []byte) error {
	type plain statement
	var raw struct {
		plain
		Principal json.RawMessage
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = statement(raw.plain)
	if len(raw.Principal) > 0 {
		var star string
		if json.Unmarshal(raw.Principal, &star) == nil {
			s.Principal = map[string]list{"*": {star}}
			return nil
		}
		return json.Unmarshal(raw.Principal, &s.Principal)
	}
	return nil
}

func parsePolicy(t *testing.T, where, js string) policy {
	t.Helper()
	var p policy
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatalf("%s: policy %q: %v", where, js, err)
	}
	return p
}

// policyOf is the rendered policy of a resource's attribute; fatal if it
// is not known at plan time.
func (p *plan) policyOf(t *testing.T, address, attr string) policy {
	t.Helper()
	s, ok := p.one(t, address).After[attr].(string)
	if !ok {
		t.Fatalf("plan %s: %s.%s is not known at plan time", p.name, address, attr)
	}
	return parsePolicy(t, address, s)
}

// allows lists the Allow statements granting action.
func (pol policy) allows(action string) []statement {
	var out []statement
	for _, s := range pol.Statement {
		if s.Effect == "Allow" && slices.Contains(s.Action, action) {
			out = append(out, s)
		}
	}
	return out
}

// rolePolicies maps each role's address to its policies' addresses, by
// the role each aws_iam_role_policy references.
func (p *plan) rolePolicies(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, rp := range p.byType("aws_iam_role_policy") {
		roles := map[string]bool{}
		for _, ref := range p.refs(t, strings.TrimSuffix(rp.Address, "[0]"), "role") {
			if ref = strings.TrimSuffix(ref, "[0]"); strings.HasPrefix(ref, "aws_iam_role.") && strings.Count(ref, ".") == 1 {
				roles[ref] = true
			}
		}
		if len(roles) != 1 {
			t.Fatalf("plan %s: %s references roles %v", p.name, rp.Address, roles)
		}
		for r := range roles {
			out[r] = append(out[r], rp.Address)
		}
	}
	return out
}

// roleStatements are the statements of a role's policies: rendered where
// known at plan time, else the policy document's configured statements
// (whose unknown resources come out empty).
func (p *plan) roleStatements(t *testing.T, role string) []statement {
	t.Helper()
	var out []statement
	for _, addr := range p.rolePolicies(t)[role] {
		if js, ok := p.res[addr].After["policy"].(string); ok {
			out = append(out, parsePolicy(t, addr, js).Statement...)
			continue
		}
		var doc string
		for _, ref := range p.refs(t, strings.TrimSuffix(addr, "[0]"), "policy") {
			if strings.HasPrefix(ref, "data.aws_iam_policy_document.") && !strings.HasSuffix(ref, ".json") {
				doc = ref
			}
		}
		d := p.data[doc]
		if d == nil {
			t.Fatalf("plan %s: %s: policy unknown and no document found", p.name, addr)
		}
		for _, s := range get(d, "statement").([]any) {
			st := statement{Sid: fmt.Sprint(get(s, "sid")), Effect: "Allow", Action: strs(get(s, "actions")), Resource: strs(get(s, "resources"))}
			if e, ok := get(s, "effect").(string); ok && e != "" {
				st.Effect = e
			}
			out = append(out, st)
		}
	}
	return out
}

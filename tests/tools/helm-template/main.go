// helm-template renders a Helm chart the way `helm template` does, for the chart tests on machines without Helm:
// Go's text/template with Sprig, Helm's own functions (include, tpl, required, fail, toYaml, fromYaml, fromYamlArray,
// toJson, lookup), values coalesced from values.yaml, -f files and subcharts (with global), and Helm's built-in objects.
// It builds from Debian's golang-go, golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v2-dev (GOPATH mode).
//
//	helm-template [-f values.yaml]... [--name r] [--namespace ns] [--kube-version v1.30.0] [--notes] <chart>
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v2"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

type chart struct {
	Name, Version, AppVersion string
	dir                       string
	values                    map[string]interface{}
	subcharts                 []*chart
}

func main() {
	var files valueFiles
	flag.Var(&files, "f", "values file (repeatable)")
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kube := flag.String("kube-version", "v1.33.0", "the cluster's Kubernetes version")
	notes := flag.Bool("notes", false, "render NOTES.txt only")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("usage: helm-template [-f values.yaml] [--name r] [--namespace ns] [--kube-version v] [--notes] <chart>")
	}

	root := load(flag.Arg(0))
	values := copyMap(root.values)
	for _, f := range files {
		data, err := os.ReadFile(f)
		check(err)
		values = merge(values, toJSONMap(data, f))
	}

	version, err := semver.NewVersion(*kube)
	check(err)
	capabilities := map[string]interface{}{"KubeVersion": map[string]interface{}{
		"Version": "v" + version.String(), "GitVersion": "v" + version.String(),
		"Major": fmt.Sprint(version.Major()), "Minor": fmt.Sprint(version.Minor())}}
	release := map[string]interface{}{"Name": *name, "Namespace": *namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1}

	t := template.New("gotpl").Option("missingkey=zero")
	funcs := funcMap(t)
	t.Funcs(funcs)
	var render []string
	contexts := map[string]map[string]interface{}{}
	var walk func(c *chart, prefix string, v map[string]interface{})
	walk = func(c *chart, prefix string, v map[string]interface{}) {
		base := path.Join(prefix, c.Name, "templates")
		contexts[base] = map[string]interface{}{
			"Values": v, "Release": release, "Capabilities": capabilities,
			"Chart":  map[string]interface{}{"Name": c.Name, "Version": c.Version, "AppVersion": c.AppVersion},
		}
		entries, err := os.ReadDir(filepath.Join(c.dir, "templates"))
		check(err)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(c.dir, "templates", e.Name()))
			check(err)
			_, err = t.New(path.Join(base, e.Name())).Parse(string(data))
			check(err)
			if !strings.HasPrefix(e.Name(), "_") {
				render = append(render, path.Join(base, e.Name()))
			}
		}
		for _, sub := range c.subcharts {
			sv, _ := v[sub.Name].(map[string]interface{})
			sv = merge(copyMap(sub.values), sv)
			global, _ := v["global"].(map[string]interface{})
			sv["global"] = merge(copyMap(mapOrEmpty(sv["global"])), global)
			v[sub.Name] = sv
			if enabled, ok := sv["enabled"].(bool); !ok || enabled {
				walk(sub, path.Join(prefix, c.Name, "charts"), sv)
			}
		}
	}
	walk(root, "", values)
	sort.Strings(render)

	var out bytes.Buffer
	for _, name := range render {
		isNotes := strings.HasSuffix(name, "NOTES.txt")
		if isNotes != *notes || (isNotes && strings.Contains(name, "/charts/")) {
			continue
		}
		base := name[:strings.LastIndex(name, "/")]
		ctx := copyMap(contexts[base])
		ctx["Template"] = map[string]interface{}{"Name": name, "BasePath": base}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, ctx); err != nil {
			fail(err.Error())
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if isNotes {
			out.WriteString(text)
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(text))
	}
	os.Stdout.Write(out.Bytes())
}

func load(dir string) *chart {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	check(err)
	meta := toJSONMap(data, "Chart.yaml")
	c := &chart{Name: str(meta["name"]), Version: str(meta["version"]), AppVersion: str(meta["appVersion"]), dir: dir}
	c.values = map[string]interface{}{}
	if data, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		c.values = toJSONMap(data, "values.yaml")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "charts"))
	for _, e := range entries {
		if e.IsDir() || e.Type()&os.ModeSymlink != 0 {
			c.subcharts = append(c.subcharts, load(filepath.Join(dir, "charts", e.Name())))
		}
	}
	return c
}

func funcMap(t *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(jsonRoundTrip(v))
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		var v interface{}
		if err := yaml.Unmarshal([]byte(s), &v); err != nil {
			return map[string]interface{}{"Error": err.Error()}
		}
		m, _ := jsonRoundTrip(normalize(v)).(map[string]interface{})
		if m == nil {
			m = map[string]interface{}{}
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		var v interface{}
		if err := yaml.Unmarshal([]byte(s), &v); err != nil {
			return []interface{}{err.Error()}
		}
		a, _ := jsonRoundTrip(normalize(v)).([]interface{})
		return a
	}
	f["toJson"] = func(v interface{}) string {
		data, _ := json.Marshal(v)
		return string(data)
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		parsed, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = parsed.Execute(&buf, data)
		return buf.String(), err
	}
	f["required"] = func(message string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf(message)
		}
		return v, nil
	}
	f["fail"] = func(message string) (string, error) { return "", fmt.Errorf(message) }
	f["lookup"] = func(string, string, string, string) map[string]interface{} { return map[string]interface{}{} }
	return f
}

// Helm reads values through JSON: numbers are float64, maps map[string]interface{}.
func toJSONMap(data []byte, source string) map[string]interface{} {
	var v interface{}
	if err := yaml.Unmarshal(data, &v); err != nil {
		fail(source + ": " + err.Error())
	}
	m, _ := jsonRoundTrip(normalize(v)).(map[string]interface{})
	if m == nil {
		m = map[string]interface{}{}
	}
	return m
}

func normalize(v interface{}) interface{} {
	switch x := v.(type) {
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, val := range x {
			m[fmt.Sprint(k)] = normalize(val)
		}
		return m
	case []interface{}:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	}
	return v
}

func jsonRoundTrip(v interface{}) interface{} {
	data, err := json.Marshal(normalize(v))
	if err != nil {
		return v
	}
	var out interface{}
	check(json.Unmarshal(data, &out))
	return out
}

// Helm's coalescing: maps merge recursively, other values replace, null deletes.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func copyMap(m map[string]interface{}) map[string]interface{} {
	c, _ := jsonRoundTrip(m).(map[string]interface{})
	if c == nil {
		c = map[string]interface{}{}
	}
	return c
}

func mapOrEmpty(v interface{}) map[string]interface{} {
	if m, ok := v.(map[string]interface{}); ok {
		return m
	}
	return map[string]interface{}{}
}

func str(v interface{}) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "Error: "+message)
	os.Exit(1)
}

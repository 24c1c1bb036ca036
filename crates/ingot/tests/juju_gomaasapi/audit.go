package main

// A mirror of gomaasapi 2.0's response schemas (the juju/schema checkers in its *_2_0 read
// functions), used to list EVERY field of a response that gomaasapi would reject. gomaasapi
// itself stops at the first bad field, and which one it reports first changes from run to run
// (it walks a Go map), so its error alone is not a to-do list.
//
// Kinds: str, int (ForceInt: number or numeric string), uint (ForceUint), bool, [str] (list of
// strings), {str} (map of strings), {} (any map), [{}] (list of maps), or a schema name;
// "[]name" a list of that schema. Prefix "?": may be missing or null (OneOf(Nil, …)). Prefix
// "~": may be missing (a default), but not null.

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type schemaDef struct {
	src    string // gomaasapi file:line of the schema.Fields
	fields map[string]string
}

var schemas = map[string]schemaDef{
	"machine": {"machine.go:514", map[string]string{
		"resource_uri": "str", "system_id": "str", "hostname": "str", "fqdn": "str",
		"tag_names": "[str]", "owner_data": "{str}", "osystem": "str", "distro_series": "str",
		"architecture": "?str", "memory": "int", "cpu_count": "int", "hardware_info": "{str}",
		"ip_addresses": "[str]", "power_state": "str", "status_name": "str", "status_message": "?str",
		"boot_interface": "?interface", "interface_set": "[]interface", "zone": "zone", "pool": "?pool",
		"physicalblockdevice_set": "[]blockdevice", "blockdevice_set": "[]blockdevice",
	}},
	"allocated": {"controller.go:960 (parseAllocateConstraintsResponse) + machine.go:514", map[string]string{
		"constraints_by_type": "constraints",
	}},
	"constraints": {"controller.go:960", map[string]string{"storage": "~{}", "interfaces": "~{}"}},
	"interface": {"interface.go:377", map[string]string{
		"resource_uri": "str", "id": "int", "name": "str", "type": "str", "enabled": "bool",
		"tags": "?[str]", "vlan": "?vlan", "links": "[]link", "mac_address": "?str",
		"effective_mtu": "int", "parents": "[str]", "children": "[str]",
	}},
	"link": {"link.go:90", map[string]string{"id": "int", "mode": "str", "subnet": "~subnet", "ip_address": "~str"}},
	"subnet": {"subnet.go:112", map[string]string{
		"resource_uri": "str", "id": "int", "name": "str", "space": "str", "gateway_ip": "?str",
		"cidr": "str", "vlan": "vlan", "dns_servers": "?[str]",
	}},
	"vlan": {"vlan.go:114", map[string]string{
		"id": "int", "resource_uri": "str", "name": "?str", "fabric": "str", "vid": "int", "mtu": "int",
		"dhcp_on": "bool", "primary_rack": "?str", "secondary_rack": "?str",
	}},
	"zone": {"zone.go:77", map[string]string{"name": "str", "description": "str", "resource_uri": "str"}},
	"pool": {"pool.go:83", map[string]string{"name": "str", "description": "str", "resource_uri": "str"}},
	"blockdevice": {"blockdevice.go:151", map[string]string{
		"resource_uri": "str", "id": "int", "uuid": "?str", "name": "str", "model": "?str", "id_path": "?str",
		"path": "str", "used_for": "str", "tags": "[str]", "block_size": "uint", "used_size": "uint",
		"size": "uint", "filesystem": "?filesystem", "partitions": "[]partition",
	}},
	"partition": {"partition.go:113", map[string]string{
		"resource_uri": "str", "id": "int", "path": "str", "uuid": "?str", "used_for": "str", "size": "uint",
		"tags": "~[str]", "filesystem": "?filesystem",
	}},
	"filesystem": {"filesystem.go:40", map[string]string{"fstype": "str", "mount_point": "?str", "label": "?str", "uuid": "str"}},
	"device": {"device.go:252", map[string]string{
		"resource_uri": "str", "system_id": "str", "hostname": "str", "fqdn": "str", "parent": "?str",
		"owner": "?str", "ip_addresses": "[str]", "interface_set": "[]interface", "zone": "zone", "pool": "?pool",
	}},
	"file":        {"file.go:151", map[string]string{"resource_uri": "str", "filename": "str", "anon_resource_uri": "str", "content": "~str"}},
	"space":       {"space.go:88", map[string]string{"resource_uri": "str", "id": "int", "name": "str", "subnets": "[]subnet"}},
	"fabric":      {"fabric.go:94", map[string]string{"resource_uri": "str", "id": "int", "name": "str", "class_type": "?str", "vlans": "[]vlan"}},
	"staticroute": {"staticroute.go:92", map[string]string{"resource_uri": "str", "id": "int", "source": "subnet", "destination": "subnet", "gateway_ip": "str", "metric": "int"}},
	"domain":      {"domain.go:37", map[string]string{"authoritative": "bool", "resource_record_count": "int", "ttl": "?int", "resource_uri": "str", "id": "int", "name": "str"}},
	"bootresource": {"bootresource.go:104", map[string]string{
		"resource_uri": "str", "id": "int", "name": "str", "type": "str", "architecture": "str", "subarches": "~str", "kflavor": "~str",
	}},
	"tag":     {"tags.go:95", map[string]string{"resource_uri": "str", "name": "str", "comment": "~str", "definition": "~str", "kernel_opts": "~str"}},
	"version": {"controller.go:930", map[string]string{"capabilities": "[str]", "version": "str", "subversion": "str"}},
}

// audit checks v against kind and returns one line per problem ("path: problem [schema]").
func audit(kind string, v interface{}, path string) []string {
	optional, nullable := false, false
	switch {
	case strings.HasPrefix(kind, "?"):
		optional, nullable, kind = true, true, kind[1:]
	case strings.HasPrefix(kind, "~"):
		optional, kind = true, kind[1:]
	}
	if v == nil {
		if nullable {
			return nil
		}
		return []string{fmt.Sprintf("%s: null or missing, want %s", path, kind)}
	}
	_ = optional
	bad := func() []string { return []string{fmt.Sprintf("%s: %s, want %s", path, shortJSON(v), kind)} }
	switch kind {
	case "str":
		if _, ok := v.(string); !ok {
			return bad()
		}
	case "int", "uint":
		switch x := v.(type) {
		case float64:
			if kind == "uint" && x < 0 {
				return bad()
			}
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				return bad()
			}
		default:
			return bad()
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case "[str]":
		l, ok := v.([]interface{})
		if !ok {
			return bad()
		}
		for i, x := range l {
			if _, ok := x.(string); !ok {
				return []string{fmt.Sprintf("%s[%d]: %s, want string", path, i, shortJSON(x))}
			}
		}
	case "{str}":
		m, ok := v.(map[string]interface{})
		if !ok {
			return bad()
		}
		for k, x := range m {
			if _, ok := x.(string); !ok {
				return []string{fmt.Sprintf("%s.%s: %s, want string (map of strings)", path, k, shortJSON(x))}
			}
		}
	case "{}":
		if _, ok := v.(map[string]interface{}); !ok {
			return bad()
		}
	default:
		if strings.HasPrefix(kind, "[]") {
			l, ok := v.([]interface{})
			if !ok {
				return bad()
			}
			var out []string
			for i, x := range l {
				out = append(out, audit(kind[2:], x, fmt.Sprintf("%s[%d]", path, i))...)
			}
			return out
		}
		def, ok := schemas[kind]
		if !ok {
			return []string{path + ": harness has no schema " + kind}
		}
		m, ok := v.(map[string]interface{})
		if !ok {
			return bad()
		}
		var out []string
		keys := make([]string, 0, len(def.fields))
		for k := range def.fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fk := def.fields[k]
			x, present := m[k]
			if !present {
				if strings.HasPrefix(fk, "?") || strings.HasPrefix(fk, "~") {
					continue
				}
				out = append(out, fmt.Sprintf("%s.%s: missing, want %s [%s %s]", path, k, fk, kind, def.src))
				continue
			}
			base := strings.TrimPrefix(strings.TrimLeft(fk, "?~"), "[]")
			_, nested := schemas[base]
			for _, p := range audit(fk, x, path+"."+k) {
				if !nested || strings.HasPrefix(p, path+"."+k+":") {
					p += fmt.Sprintf(" [%s %s]", kind, def.src)
				}
				out = append(out, p)
			}
		}
		return out
	}
	return nil
}

func shortJSON(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(excerpt(x, 40))
	case map[string]interface{}:
		return fmt.Sprintf("object(%d keys)", len(x))
	case []interface{}:
		return fmt.Sprintf("list(%d)", len(x))
	default:
		return fmt.Sprintf("%v (%T)", x, x)
	}
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// summarise folds list indexes so that one missing field is one line, with a count.
func summarise(problems []string) []string {
	count := map[string]int{}
	var order []string
	for _, p := range problems {
		k := indexRE.ReplaceAllString(p, "[]")
		// The value excerpt differs per element: fold on the path and the wanted kind.
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	var out []string
	for _, k := range order {
		if count[k] > 1 {
			out = append(out, fmt.Sprintf("%s (×%d)", k, count[k]))
		} else {
			out = append(out, k)
		}
	}
	return out
}

// rootKind picks the schema gomaasapi applies to the answer of a request.
func rootKind(method, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	p := u.Path
	op := u.Query().Get("op")
	seg := strings.Split(strings.Trim(strings.TrimPrefix(p, "/MAAS/api/2.0/"), "/"), "/")
	if len(seg) == 0 {
		return ""
	}
	coll := map[string]string{"machines": "machine", "devices": "device", "files": "file", "spaces": "space",
		"fabrics": "fabric", "static-routes": "staticroute", "zones": "zone", "pools": "pool",
		"domains": "domain", "boot-resources": "bootresource", "tags": "tag"}
	switch {
	case seg[0] == "version":
		return "version"
	case seg[0] == "machines" && op == "allocate":
		return "allocated"
	case seg[0] == "machines" && len(seg) == 1 && method == "GET":
		return "[]machine"
	case seg[0] == "machines" && len(seg) == 2:
		return "machine"
	case seg[0] == "nodes" && len(seg) >= 3 && seg[2] == "interfaces":
		return "interface"
	case seg[0] == "files" && op == "get":
		return ""
	case len(seg) == 1 && method == "GET":
		if k, ok := coll[seg[0]]; ok {
			return "[]" + k
		}
	case len(seg) >= 1:
		if k, ok := coll[seg[0]]; ok {
			return k
		}
	}
	return ""
}

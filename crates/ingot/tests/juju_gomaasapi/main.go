// gomaasapi-harness: Juju's MAAS client library (github.com/juju/gomaasapi 2.0, Debian's
// golang-github-juju-gomaasapi-dev) against a MAAS-compatible server, calling what Juju's MAAS
// provider calls. Every check prints one line "PASS name" or "FAIL name: error", and on a
// failure the HTTP exchanges gomaasapi made during that check (method, URL, status, body).
// The last line is "N passed, N failed" (", N skipped" when some were skipped); the exit code
// is 1 when any check failed.
//
// Usage: gomaasapi-harness -url http://127.0.0.1:PORT/MAAS/ -key CONSUMER:TOKEN:SECRET
//
// Layout:
//   - Harness / Check / Skip: the check runner and the recording HTTP transport.
//   - Raw: a plain signed HTTP client for the fixtures gomaasapi has no call for (creating
//     machines, zones, subnets, tags, images) and for playing the machine's side over the
//     metadata API (commissioning → Ready, deploying → Deployed).
//   - Fixtures: the world the checks run in, built once (zones, network, tags, image, machines
//     in a known state). To add a check that needs a machine in some state, add a helper like
//     readyMachine / deployMachine and call it from a new func in the checks section.
//   - The checks, grouped by what Juju does: connect, read the model, allocate, deploy,
//     containers (devices), release, files (Juju's provider storage).
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/juju/errors"
	"github.com/juju/gomaasapi"
)

// ---------------------------------------------------------------------------------------------
// Recording transport: every request gomaasapi makes, with the answer.

type exchange struct {
	Method, URL, ReqCT string
	ReqBody            string
	Status             int
	RespBody           string
}

type recorder struct {
	mu  sync.Mutex
	log []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = ioutil.ReadAll(req.Body)
		req.Body.Close()
		req.Body = ioutil.NopCloser(bytes.NewReader(reqBody))
	}
	ex := exchange{Method: req.Method, URL: req.URL.String(), ReqCT: req.Header.Get("Content-Type"), ReqBody: string(reqBody)}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		ex.Status = -1
		ex.RespBody = err.Error()
	} else {
		body, _ := ioutil.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = ioutil.NopCloser(bytes.NewReader(body))
		ex.Status = resp.StatusCode
		ex.RespBody = string(body)
	}
	r.mu.Lock()
	r.log = append(r.log, ex)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.log)
}

func (r *recorder) since(i int) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.log[i:]...)
}

func excerpt(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 32 && r != '\n' || r == 0xfffd {
			return '·'
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > n {
		return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

// ---------------------------------------------------------------------------------------------
// Check runner.

type Harness struct {
	baseURL, apiKey string
	rec             *recorder
	ctrl            gomaasapi.Controller
	raw             *Raw
	fx              *Fixtures
	passed, failed  int
	skipped         int
	failures        []string
	verbose         bool
}

// Check runs fn as the check `name`. A panic in gomaasapi (it type-asserts after its schema
// checks) counts as a failure too.
func (h *Harness) Check(name string, fn func() error) (ok bool) {
	start := h.rec.mark()
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		err = fn()
	}()
	if err == nil {
		h.passed++
		fmt.Printf("PASS %s\n", name)
		if h.verbose {
			h.dump(start, 300)
		}
		return true
	}
	h.failed++
	h.failures = append(h.failures, name)
	fmt.Printf("FAIL %s: %v\n", name, err)
	h.dump(start, 900)
	return false
}

func (h *Harness) dump(start, n int) {
	exs := h.rec.since(start)
	// The last few exchanges are the ones that matter.
	if len(exs) > 4 {
		fmt.Printf("     … %d earlier exchanges\n", len(exs)-4)
		exs = exs[len(exs)-4:]
	}
	for _, ex := range exs {
		fmt.Printf("     > %s %s", ex.Method, ex.URL)
		if ex.ReqBody != "" {
			fmt.Printf(" [%s] %s", ex.ReqCT, excerpt(ex.ReqBody, 300))
		}
		fmt.Printf("\n     < %d %s\n", ex.Status, excerpt(ex.RespBody, n))
		if ex.Status >= 200 && ex.Status < 300 {
			h.auditExchange(ex)
		}
	}
}

// auditExchange lists every field of a 2xx answer that gomaasapi's schema would reject.
func (h *Harness) auditExchange(ex exchange) {
	kind := rootKind(ex.Method, ex.URL)
	if kind == "" {
		return
	}
	var v interface{}
	if err := json.Unmarshal([]byte(ex.RespBody), &v); err != nil {
		fmt.Printf("     ! answer is not JSON: %v\n", err)
		return
	}
	var problems []string
	if kind == "allocated" {
		problems = append(audit("machine", v, "$"), audit("allocated", v, "$")...)
	} else {
		problems = audit(kind, v, "$")
	}
	for _, p := range summarise(problems) {
		fmt.Printf("     ! %s\n", p)
	}
}

func (h *Harness) Skip(name, why string) {
	h.skipped++
	fmt.Printf("SKIP %s: %s\n", name, why)
}

// Need is for a check whose precondition (a fixture, an earlier check's result) is missing:
// it counts as a failure of that check, naming what is missing.
func (h *Harness) Need(name string, what string) {
	h.Check(name, func() error { return fmt.Errorf("not run: %s", what) })
}

// ---------------------------------------------------------------------------------------------
// Raw signed HTTP (fixtures and the machine's side of the metadata API).

type Raw struct {
	root   string // http://host:port (no /MAAS)
	signer gomaasapi.OAuthSigner
}

func newRaw(root, key string) (*Raw, error) {
	p := strings.Split(key, ":")
	if len(p) != 3 {
		return nil, fmt.Errorf("bad key %q", key)
	}
	return newRawToken(root, p[0], p[1], p[2]), nil
}

func newRawToken(root, ck, tk, ts string) *Raw {
	s, _ := gomaasapi.NewPlainTestOAuthSigner(&gomaasapi.OAuthToken{ConsumerKey: ck, TokenKey: tk, TokenSecret: ts}, "MAAS API")
	return &Raw{root: root, signer: s}
}

type resp struct {
	Status int
	Body   []byte
}

func (r resp) ok() bool { return r.Status >= 200 && r.Status < 300 }
func (r resp) json() map[string]interface{} {
	var v map[string]interface{}
	json.Unmarshal(r.Body, &v)
	return v
}
func (r resp) list() []interface{} {
	var v []interface{}
	json.Unmarshal(r.Body, &v)
	return v
}
func (r resp) String() string { return fmt.Sprintf("%d %s", r.Status, excerpt(string(r.Body), 400)) }

func (c *Raw) do(method, path, ct string, body []byte) resp {
	req, err := http.NewRequest(method, c.root+path, bytes.NewReader(body))
	if err != nil {
		return resp{-1, []byte(err.Error())}
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "*/*")
	if c.signer != nil {
		c.signer.OAuthSign(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return resp{-1, []byte(err.Error())}
	}
	defer res.Body.Close()
	b, _ := ioutil.ReadAll(res.Body)
	return resp{res.StatusCode, b}
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func (c *Raw) get(path string) resp { return c.do("GET", path, "", nil) }
func (c *Raw) post(path string, v url.Values) resp {
	return c.do("POST", path, "application/x-www-form-urlencoded", []byte(v.Encode()))
}
func (c *Raw) put(path string, v url.Values) resp {
	return c.do("PUT", path, "application/x-www-form-urlencoded", []byte(v.Encode()))
}
func (c *Raw) postJSON(path string, v interface{}) resp {
	b, _ := json.Marshal(v)
	return c.do("POST", path, "application/json", b)
}

// postMultipart: text fields, then file parts (name → content, filename = name).
func (c *Raw) postMultipart(path string, fields [][2]string, files map[string][]byte) resp {
	buf := &bytes.Buffer{}
	w := multipart.NewWriter(buf)
	for _, f := range fields {
		w.WriteField(f[0], f[1])
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fw, _ := w.CreateFormFile(n, n)
		fw.Write(files[n])
	}
	w.Close()
	return c.do("POST", path, w.FormDataContentType(), buf.Bytes())
}

const api = "/MAAS/api/2.0/"

// ---------------------------------------------------------------------------------------------
// Fixtures.

type diskSpec struct {
	Name string
	Size uint64
	RPM  int // 0: SSD
}

type Fixtures struct {
	Zone      string // a zone with one machine in it
	ZoneSID   string // that machine
	PlainSID  string // a Ready machine in the default zone
	Space     string // a space whose subnet the zone machine's boot interface is linked to ("" if setup failed)
	SubnetID  int
	Subnet2ID int
	Tag       string
	Image     string // distro_series to deploy
	notes     []string
}

func (f *Fixtures) note(format string, a ...interface{}) {
	s := fmt.Sprintf(format, a...)
	f.notes = append(f.notes, s)
	fmt.Println("SETUP " + s)
}

func mac(i int) string { return fmt.Sprintf("52:54:00:aa:%02x:%02x", (i>>8)&0xff, i&0xff) }

// inventory is a machine-resources document (like the agent's 50-maas-01-commissioning output)
// for machine JSON m: its CPUs and memory, its interfaces, and the given disks.
func inventory(m map[string]interface{}, disks []diskSpec) []byte {
	cpus := 1
	if c, ok := m["cpu_count"].(float64); ok && c > 1 {
		cpus = int(c)
	}
	mem := uint64(2048) << 20
	if v, ok := m["memory"].(float64); ok && v > 0 {
		mem = uint64(v) << 20
	}
	var cores []interface{}
	for i := 0; i < cpus; i++ {
		cores = append(cores, map[string]interface{}{"core": i, "frequency": 2000,
			"threads": []interface{}{map[string]interface{}{"id": i, "thread": 0, "online": true, "numa_node": 0}}})
	}
	var cards []interface{}
	ifs, _ := m["interface_set"].([]interface{})
	for i, x := range ifs {
		n := x.(map[string]interface{})
		cards = append(cards, map[string]interface{}{"driver": "virtio_net", "driver_version": "1", "numa_node": 0,
			"pci_address": fmt.Sprintf("0000:00:%02x.0", 3+i), "vendor": "Red Hat, Inc.", "vendor_id": "1af4",
			"product": "Virtio network device", "product_id": "1000",
			"ports": []interface{}{map[string]interface{}{"id": n["name"], "address": n["mac_address"], "port": 0,
				"protocol": "ethernet", "auto_negotiation": false, "link_detected": true, "link_speed": 1000}}})
	}
	sid, _ := m["system_id"].(string)
	var ds []interface{}
	for i, d := range disks {
		serial := fmt.Sprintf("TEST-%s-%s", sid, d.Name)
		ds = append(ds, map[string]interface{}{"id": d.Name, "device": fmt.Sprintf("8:%d", i*16), "model": "QEMU HARDDISK",
			"type": "scsi", "read_only": false, "size": d.Size, "removable": false, "numa_node": 0,
			"device_path": fmt.Sprintf("pci-0000:00:%02x.0", 0x10+i), "block_size": 512, "rpm": d.RPM,
			"firmware_version": "", "serial": serial, "device_id": "scsi-" + serial, "partitions": []interface{}{}})
	}
	doc := map[string]interface{}{
		"api_version":    "1.0",
		"api_extensions": []string{"resources", "resources_cpu_socket", "resources_gpu", "resources_numa", "resources_v2", "resources_disk_sata", "resources_network_firmware", "resources_disk_id", "resources_usb_pci", "resources_cpu_threads_numa", "resources_cpu_core_die", "api_os", "resources_system", "resources_pci_iommu", "resources_network_usb", "resources_disk_address"},
		"environment": map[string]interface{}{"kernel": "Linux", "kernel_architecture": "x86_64", "kernel_version": "6.1.0",
			"os_name": "ingot", "os_version": "1", "server": "maas-machine-resources", "server_name": m["hostname"], "server_version": "5.0"},
		"resources": map[string]interface{}{
			"cpu": map[string]interface{}{"architecture": "x86_64", "total": cpus,
				"sockets": []interface{}{map[string]interface{}{"socket": 0, "name": "Test CPU", "vendor": "Test", "frequency": 2000, "cores": cores}}},
			"memory":  map[string]interface{}{"total": mem, "used": 0, "nodes": []interface{}{map[string]interface{}{"numa_node": 0, "total": mem, "used": 0}}},
			"gpu":     map[string]interface{}{"cards": []interface{}{}, "total": 0},
			"network": map[string]interface{}{"cards": cards, "total": len(cards)},
			"storage": map[string]interface{}{"disks": ds, "total": len(ds)},
		},
	}
	b, _ := json.Marshal(doc)
	return b
}

func (h *Harness) machineJSON(sid string) (map[string]interface{}, error) {
	r := h.raw.get(api + "machines/" + sid + "/")
	if !r.ok() {
		return nil, fmt.Errorf("read machine %s: %s", sid, r)
	}
	return r.json(), nil
}

// machineClient signs as the machine (its token from op=get_token), for the metadata API.
func (h *Harness) machineClient(sid string) (*Raw, error) {
	r := h.raw.get(api + "machines/" + sid + "/?op=get_token")
	t := r.json()
	if !r.ok() || t == nil {
		return nil, fmt.Errorf("get_token %s: %s", sid, r)
	}
	s := func(k string) string { v, _ := t[k].(string); return v }
	return newRawToken(h.raw.root, s("consumer_key"), s("token_key"), s("token_secret")), nil
}

// readyMachine creates a manual-power machine (commissioning at once, as an admin's machines
// do) and plays its commissioning over the metadata API (every script passed, the inventory
// reporting `disks`, then OK) until it is Ready. Returns its system_id.
func (h *Harness) readyMachine(hostname string, macAddr string, disks []diskSpec, extra ...string) (string, error) {
	p := form(append([]string{"hostname", hostname, "architecture", "amd64/generic", "mac_addresses", macAddr, "power_type", "manual"}, extra...)...)
	r := h.raw.post(api+"machines/", p)
	if !r.ok() {
		return "", fmt.Errorf("create machine: %s", r)
	}
	sid, _ := r.json()["system_id"].(string)
	m, err := h.machineJSON(sid)
	if err != nil {
		return sid, err
	}
	mc, err := h.machineClient(sid)
	if err != nil {
		return sid, err
	}
	idx := mc.get("/MAAS/metadata/2012-03-01/maas-scripts/")
	if !idx.ok() {
		return sid, fmt.Errorf("maas-scripts index: %s", idx)
	}
	ix := idx.json()
	ids := func(set string) [][2]string {
		var out [][2]string
		l, _ := ix[set].([]interface{})
		for _, e := range l {
			em := e.(map[string]interface{})
			id, _ := em["script_result_id"].(float64)
			name, _ := em["name"].(string)
			out = append(out, [2]string{fmt.Sprint(int64(id)), name})
		}
		return out
	}
	inv := inventory(m, disks)
	signal := "/MAAS/metadata/2012-03-01/?op=signal"
	for _, s := range ids("commissioning_scripts") {
		var files map[string][]byte
		if s[1] == "50-maas-01-commissioning" {
			files = map[string][]byte{"50-maas-01-commissioning.out": inv}
		}
		r := mc.postMultipart(signal, [][2]string{{"status", "WORKING"}, {"script_result_id", s[0]}, {"exit_status", "0"}}, files)
		if !r.ok() {
			return sid, fmt.Errorf("signal %s: %s", s[1], r)
		}
	}
	if tests := ids("testing_scripts"); len(tests) > 0 {
		mc.postMultipart(signal, [][2]string{{"status", "TESTING"}}, nil)
		for _, s := range tests {
			mc.postMultipart(signal, [][2]string{{"status", "WORKING"}, {"script_result_id", s[0]}, {"exit_status", "0"}}, nil)
		}
	}
	if r := mc.postMultipart(signal, [][2]string{{"status", "OK"}}, nil); !r.ok() {
		return sid, fmt.Errorf("signal OK: %s", r)
	}
	m, err = h.machineJSON(sid)
	if err != nil {
		return sid, err
	}
	if m["status_name"] != "Ready" {
		return sid, fmt.Errorf("machine %s is %v after commissioning, not Ready", sid, m["status_name"])
	}
	return sid, nil
}

// reportDeployed plays the installed OS: cloud-init's modules-final finished.
func (h *Harness) reportDeployed(sid string) error {
	mc, err := h.machineClient(sid)
	if err != nil {
		return err
	}
	ev := map[string]interface{}{"event_type": "finish", "origin": "cloud-init", "name": "modules-final",
		"description": "running modules for final", "result": "SUCCESS", "timestamp": float64(time.Now().Unix())}
	r := mc.postJSON("/MAAS/metadata/status/"+sid, ev)
	if !r.ok() {
		return fmt.Errorf("report deployed: %s", r)
	}
	return nil
}

func (h *Harness) setup() {
	f := &Fixtures{Zone: "juju-zone", Tag: "juju-tag", Image: "jammy"}
	h.fx = f
	// Zone.
	if r := h.raw.post(api+"zones/", form("name", f.Zone, "description", "a zone for the gomaasapi harness")); !r.ok() {
		f.note("create zone %s: %s", f.Zone, r)
	}
	// Network: a subnet on the default fabric's untagged VLAN, a second one (for a static
	// route), a space holding the first.
	fabrics := h.raw.get(api + "fabrics/").list()
	vlanID := ""
	fabricID := ""
	if len(fabrics) > 0 {
		fb := fabrics[0].(map[string]interface{})
		fabricID = fmt.Sprint(fb["id"])
		if vl, ok := fb["vlans"].([]interface{}); ok && len(vl) > 0 {
			vlanID = fmt.Sprint(vl[0].(map[string]interface{})["id"])
		}
	} else {
		f.note("no fabrics listed")
	}
	sp := "juju-space"
	if r := h.raw.post(api+"spaces/", form("name", sp)); !r.ok() {
		f.note("create space %s (POST spaces/): %s", sp, r)
	} else {
		f.Space = sp
	}
	sub := form("cidr", "192.0.2.0/24", "name", "juju-subnet", "gateway_ip", "192.0.2.1", "dns_servers", "192.0.2.53")
	if vlanID != "" {
		sub.Set("vlan", vlanID)
	}
	if f.Space != "" {
		sub.Set("space", sp)
	}
	if r := h.raw.post(api+"subnets/", sub); !r.ok() {
		f.note("create subnet 192.0.2.0/24: %s", r)
	} else {
		f.SubnetID = int(r.json()["id"].(float64))
	}
	if r := h.raw.post(api+"subnets/", form("cidr", "198.51.100.0/24", "name", "juju-subnet-2")); !r.ok() {
		f.note("create subnet 198.51.100.0/24: %s", r)
	} else {
		f.Subnet2ID = int(r.json()["id"].(float64))
	}
	if f.Space != "" && vlanID != "" && fabricID != "" {
		// MAAS ≥ 2.4: a space is a property of the VLAN.
		vl := h.raw.get(api + "fabrics/" + fabricID + "/vlans/").list()
		for _, x := range vl {
			v := x.(map[string]interface{})
			if fmt.Sprint(v["id"]) == vlanID {
				if r := h.raw.put(api+"fabrics/"+fabricID+"/vlans/"+fmt.Sprint(v["vid"])+"/", form("space", sp)); !r.ok() {
					f.note("put space on VLAN: %s", r)
				}
			}
		}
	}
	if f.SubnetID != 0 && f.Subnet2ID != 0 {
		if r := h.raw.post(api+"static-routes/", form("source", fmt.Sprint(f.SubnetID), "destination", fmt.Sprint(f.Subnet2ID), "gateway_ip", "192.0.2.254", "metric", "10")); !r.ok() {
			f.note("create static route: %s", r)
		}
	}
	// Tag.
	if r := h.raw.post(api+"tags/", form("name", f.Tag, "comment", "harness tag")); !r.ok() {
		f.note("create tag: %s", r)
	}
	// Image: Juju deploys by series name.
	if r := h.raw.postMultipart(api+"boot-resources/", [][2]string{{"name", "custom/" + f.Image}, {"architecture", "amd64/generic"}, {"filetype", "tgz"}},
		map[string][]byte{"content": []byte("a root file system")}); !r.ok() {
		f.note("upload image custom/%s: %s", f.Image, r)
	}
	// Machines.
	sid, err := h.readyMachine("zone-node", mac(1), []diskSpec{{"sda", 40e9, 7200}, {"sdb", 20e9, 0}}, "zone", f.Zone)
	if err != nil {
		f.note("ready machine zone-node: %v", err)
	} else {
		f.ZoneSID = sid
		if m, err := h.machineJSON(sid); err == nil && m["zone"] != nil {
			if z, _ := m["zone"].(map[string]interface{}); z == nil || z["name"] != f.Zone {
				// Some servers take the zone only on update.
				if r := h.raw.put(api+"machines/"+sid+"/", form("zone", f.Zone)); !r.ok() {
					f.note("put zone on %s: %s", sid, r)
				}
			}
		}
		// Link its boot interface to the subnet (static address).
		if m, err := h.machineJSON(sid); err == nil && f.SubnetID != 0 {
			bi, _ := m["boot_interface"].(map[string]interface{})
			if bi != nil {
				iid := fmt.Sprint(bi["id"])
				p := api + "nodes/" + sid + "/interfaces/" + iid + "/?op=link_subnet"
				if r := h.raw.post(p, form("mode", "STATIC", "subnet", fmt.Sprint(f.SubnetID), "ip_address", "192.0.2.10")); !r.ok() {
					f.note("link_subnet STATIC on %s: %s; trying AUTO", sid, r)
					if r := h.raw.post(p, form("mode", "AUTO", "subnet", fmt.Sprint(f.SubnetID))); !r.ok() {
						f.note("link_subnet AUTO on %s: %s", sid, r)
					}
				}
			}
		}
		if r := h.raw.post(api+"tags/"+f.Tag+"/?op=update_nodes", form("add", sid)); !r.ok() {
			f.note("tag %s: %s", sid, r)
		}
	}
	sid, err = h.readyMachine("plain-node", mac(2), []diskSpec{{"sda", 20e9, 7200}})
	if err != nil {
		f.note("ready machine plain-node: %v", err)
	} else {
		f.PlainSID = sid
	}
}

// ---------------------------------------------------------------------------------------------
// Helpers over gomaasapi objects.

func describeMachine(m gomaasapi.Machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s arch=%s zone=%v mem=%d cpus=%d power=%s ips=%v tags=%v",
		m.SystemID(), m.Hostname(), m.StatusName(), m.Architecture(), nameOf(m.Zone()), m.Memory(), m.CPUCount(), m.PowerState(), m.IPAddresses(), m.Tags())
	for _, i := range m.InterfaceSet() {
		vlan := "nil"
		if v := i.VLAN(); v != nil {
			vlan = fmt.Sprintf("%d(vid %d fabric %s)", v.ID(), v.VID(), v.Fabric())
		}
		fmt.Fprintf(&b, "\n       iface %d %s %s mac=%s vlan=%s", i.ID(), i.Name(), i.Type(), i.MACAddress(), vlan)
		for _, l := range i.Links() {
			s := "nil"
			if sn := l.Subnet(); sn != nil {
				s = fmt.Sprintf("%s space=%q gw=%s dns=%v", sn.CIDR(), sn.Space(), sn.Gateway(), sn.DNSServers())
			}
			fmt.Fprintf(&b, "\n         link %d %s ip=%s subnet=%s", l.ID(), l.Mode(), l.IPAddress(), s)
		}
	}
	for _, d := range m.BlockDevices() {
		fmt.Fprintf(&b, "\n       disk %d %s size=%d tags=%v parts=%d", d.ID(), d.Name(), d.Size(), d.Tags(), len(d.Partitions()))
	}
	return b.String()
}

func nameOf(z gomaasapi.Zone) string {
	if z == nil {
		return "<nil>"
	}
	return z.Name()
}

func (h *Harness) machineBySID(sid string) (gomaasapi.Machine, error) {
	ms, err := h.ctrl.Machines(gomaasapi.MachinesArgs{SystemIDs: []string{sid}})
	if err != nil {
		return nil, err
	}
	if len(ms) != 1 {
		return nil, fmt.Errorf("Machines(SystemIDs=[%s]) returned %d machines", sid, len(ms))
	}
	return ms[0], nil
}

func (h *Harness) waitStatus(sid string, want string, timeout time.Duration) (gomaasapi.Machine, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		m, err := h.machineBySID(sid)
		if err != nil {
			return nil, err
		}
		last = m.StatusName()
		if last == want {
			return m, nil
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("machine %s stayed %q (%s), want %q", sid, last, m.StatusMessage(), want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------
// The checks.

func main() {
	base := flag.String("url", os.Getenv("MAAS_URL"), "MAAS URL, e.g. http://127.0.0.1:5240/MAAS/")
	key := flag.String("key", os.Getenv("MAAS_APIKEY"), "API key consumer:token:secret")
	verbose := flag.Bool("v", false, "print every exchange, passing checks too")
	flag.Parse()
	if *base == "" || *key == "" {
		fmt.Fprintln(os.Stderr, "need -url and -key (or MAAS_URL, MAAS_APIKEY)")
		os.Exit(2)
	}
	root := strings.TrimSuffix(strings.TrimSuffix(*base, "/"), "/MAAS")
	raw, err := newRaw(root, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	h := &Harness{baseURL: *base, apiKey: *key, rec: &recorder{}, raw: raw, verbose: *verbose}

	h.setup()

	h.connect()
	if h.ctrl == nil {
		h.finish()
		return
	}
	h.readModel()
	h.readMachines()
	h.allocate()
	h.files()
	h.finish()
}

func (h *Harness) finish() {
	if len(h.failures) > 0 {
		fmt.Printf("failed: %s\n", strings.Join(h.failures, ", "))
	}
	if h.skipped > 0 {
		fmt.Printf("%d passed, %d failed, %d skipped\n", h.passed, h.failed, h.skipped)
	} else {
		fmt.Printf("%d passed, %d failed\n", h.passed, h.failed)
	}
	if h.failed > 0 {
		os.Exit(1)
	}
}

// connect: what Juju's provider does first (environ SetConfig → NewController), and the
// wrong-key answer Juju turns into "invalid credentials".
func (h *Harness) connect() {
	client := &http.Client{Transport: h.rec}
	h.Check("NewController", func() error {
		c, err := gomaasapi.NewController(gomaasapi.ControllerArgs{BaseURL: h.baseURL, APIKey: h.apiKey, HTTPClient: client})
		if err != nil {
			return err
		}
		h.ctrl = c
		return nil
	})
	h.Check("NewController with versioned URL (…/api/2.0/)", func() error {
		_, err := gomaasapi.NewController(gomaasapi.ControllerArgs{BaseURL: strings.TrimSuffix(h.baseURL, "/") + "/api/2.0/", APIKey: h.apiKey, HTTPClient: client})
		return err
	})
	h.Check("NewController with a wrong key → PermissionError", func() error {
		p := strings.Split(h.apiKey, ":")
		_, err := gomaasapi.NewController(gomaasapi.ControllerArgs{BaseURL: h.baseURL, APIKey: p[0] + ":" + p[1] + ":wrongsecret", HTTPClient: client})
		if err == nil {
			return fmt.Errorf("accepted a wrong token secret")
		}
		if !gomaasapi.IsPermissionError(err) {
			return fmt.Errorf("want PermissionError, got %T: %v", errors.Cause(err), err)
		}
		return nil
	})
	if h.ctrl == nil {
		return
	}
	h.Check("APIVersionInfo", func() error {
		v, sv, err := h.ctrl.APIVersionInfo()
		if err != nil {
			return err
		}
		fmt.Printf("     version=%q subversion=%q\n", v, sv)
		return nil
	})
	h.Check("Capabilities", func() error {
		caps := h.ctrl.Capabilities()
		fmt.Printf("     %v\n", caps.SortedValues())
		// What Juju and gomaasapi look for.
		var missing []string
		for _, c := range []string{"network-deployment-ubuntu", "networks-management", "static-ipaddresses", "devices-management", "storage-deployment-ubuntu"} {
			if !caps.Contains(c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("capabilities lack %v", missing)
		}
		return nil
	})
}

// readModel: zones (AvailabilityZones), pools, domains, spaces and subnets (Spaces /
// subnetsFromSpaces), fabrics and VLANs, static routes (Routes), boot resources
// (SupportedArchitectures), tags.
func (h *Harness) readModel() {
	h.Check("Zones", func() error {
		zs, err := h.ctrl.Zones()
		if err != nil {
			return err
		}
		var names []string
		for _, z := range zs {
			names = append(names, z.Name())
		}
		fmt.Printf("     %v\n", names)
		for _, want := range []string{"default", h.fx.Zone} {
			found := false
			for _, n := range names {
				found = found || n == want
			}
			if !found {
				return fmt.Errorf("zone %q missing from %v", want, names)
			}
		}
		return nil
	})
	h.Check("Pools", func() error {
		ps, err := h.ctrl.Pools()
		if err != nil {
			return err
		}
		for _, p := range ps {
			fmt.Printf("     pool %s %q\n", p.Name(), p.Description())
		}
		return nil
	})
	h.Check("Domains", func() error {
		ds, err := h.ctrl.Domains()
		if err != nil {
			return err
		}
		for _, d := range ds {
			fmt.Printf("     domain %s\n", d.Name())
		}
		if len(ds) == 0 {
			return fmt.Errorf("no domains (MAAS always has one, `maas`)")
		}
		return nil
	})
	h.Check("Spaces (with subnets)", func() error {
		ss, err := h.ctrl.Spaces()
		if err != nil {
			return err
		}
		found := false
		for _, s := range ss {
			var cidrs []string
			for _, sn := range s.Subnets() {
				cidrs = append(cidrs, fmt.Sprintf("%s(id %d vlan %d space %q)", sn.CIDR(), sn.ID(), sn.VLAN().ID(), sn.Space()))
				found = found || sn.CIDR() == "192.0.2.0/24"
			}
			fmt.Printf("     space %d %s %v\n", s.ID(), s.Name(), cidrs)
		}
		if !found {
			return fmt.Errorf("subnet 192.0.2.0/24 is in no space (Juju finds subnets only through Spaces())")
		}
		return nil
	})
	h.Check("Fabrics (with VLANs)", func() error {
		fs, err := h.ctrl.Fabrics()
		if err != nil {
			return err
		}
		for _, f := range fs {
			for _, v := range f.VLANs() {
				fmt.Printf("     fabric %d %s vlan %d vid=%d mtu=%d dhcp=%v\n", f.ID(), f.Name(), v.ID(), v.VID(), v.MTU(), v.DHCP())
			}
		}
		if len(fs) == 0 {
			return fmt.Errorf("no fabrics")
		}
		return nil
	})
	h.Check("StaticRoutes", func() error {
		rs, err := h.ctrl.StaticRoutes()
		if err != nil {
			return err
		}
		for _, r := range rs {
			fmt.Printf("     %s → %s via %s metric %d\n", r.Source().CIDR(), r.Destination().CIDR(), r.GatewayIP(), r.Metric())
		}
		if len(rs) == 0 {
			return fmt.Errorf("the route created in setup is not listed")
		}
		return nil
	})
	h.Check("BootResources", func() error {
		rs, err := h.ctrl.BootResources()
		if err != nil {
			return err
		}
		for _, r := range rs {
			fmt.Printf("     %d %s %s %s subarches=%v kflavor=%q\n", r.ID(), r.Name(), r.Type(), r.Architecture(), r.SubArchitectures().SortedValues(), r.KernelFlavor())
		}
		if len(rs) == 0 {
			return fmt.Errorf("no boot resources (Juju takes its architectures from them)")
		}
		return nil
	})
	h.Check("Tags", func() error {
		ts, err := h.ctrl.Tags()
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Name() == h.fx.Tag {
				return nil
			}
		}
		return fmt.Errorf("tag %q not listed", h.fx.Tag)
	})
}

// readMachines: Machines() with Juju's filters, every machine's interfaces, links, subnets,
// VLANs and block devices read through the library's accessors.
func (h *Harness) readMachines() {
	h.Check("Machines(MachinesArgs{}) + interfaces/links/subnets/disks", func() error {
		ms, err := h.ctrl.Machines(gomaasapi.MachinesArgs{})
		if err != nil {
			return err
		}
		for _, m := range ms {
			fmt.Printf("     %s\n", describeMachine(m))
		}
		if len(ms) < 2 {
			return fmt.Errorf("%d machines listed", len(ms))
		}
		return nil
	})
	if h.fx.ZoneSID == "" {
		h.Need("Machines(SystemIDs)", "no Ready zone-node (setup)")
		return
	}
	h.Check("Machines(SystemIDs)", func() error {
		m, err := h.machineBySID(h.fx.ZoneSID)
		if err != nil {
			return err
		}
		if m.SystemID() != h.fx.ZoneSID {
			return fmt.Errorf("got %s", m.SystemID())
		}
		if bi := m.BootInterface(); bi == nil {
			return fmt.Errorf("no boot interface")
		}
		if len(m.PhysicalBlockDevices()) != 2 {
			return fmt.Errorf("want 2 physical block devices, got %d", len(m.PhysicalBlockDevices()))
		}
		return nil
	})
	h.Check("Machines(Hostnames, Zone)", func() error {
		ms, err := h.ctrl.Machines(gomaasapi.MachinesArgs{Hostnames: []string{"zone-node"}, Zone: h.fx.Zone})
		if err != nil {
			return err
		}
		if len(ms) != 1 {
			return fmt.Errorf("got %d machines", len(ms))
		}
		return nil
	})
	h.Check("Machine interface linked to subnet 192.0.2.0/24", func() error {
		m, err := h.machineBySID(h.fx.ZoneSID)
		if err != nil {
			return err
		}
		for _, i := range m.InterfaceSet() {
			for _, l := range i.Links() {
				if s := l.Subnet(); s != nil && s.CIDR() == "192.0.2.0/24" {
					if s.VLAN() == nil {
						return fmt.Errorf("link subnet has no VLAN")
					}
					return nil
				}
			}
		}
		return fmt.Errorf("no link to 192.0.2.0/24:\n     %s", describeMachine(m))
	})
}

// allocate: AllocateMachine as Juju's StartInstance builds it (acquireNode2: zone, storage,
// interfaces by space, not_subnets by space, tags, agent_name), then SetOwnerData, Start,
// deployment, container devices, release.
func (h *Harness) allocate() {
	fx := h.fx
	h.dryRuns("", []dryRun{
		{"AllocateMachine dry_run zone", gomaasapi.AllocateMachineArgs{Zone: fx.Zone, DryRun: true}, "zone-node"},
		{"AllocateMachine dry_run storage (root:30, data:10(ssd))", gomaasapi.AllocateMachineArgs{Storage: []gomaasapi.StorageSpec{{Label: "root", Size: 30}, {Label: "data", Size: 10, Tags: []string{"ssd"}}}, DryRun: true}, "zone-node"},
		{"AllocateMachine dry_run interfaces (0:space=juju-space)", gomaasapi.AllocateMachineArgs{Interfaces: []gomaasapi.InterfaceSpec{{Label: "0", Space: "juju-space"}}, DryRun: true}, "zone-node"},
		{"AllocateMachine dry_run NotSpace (not_subnets=space:juju-space)", gomaasapi.AllocateMachineArgs{NotSpace: []string{"juju-space"}, DryRun: true}, "plain-node"},
		{"AllocateMachine dry_run tags + arch + cpu + mem", gomaasapi.AllocateMachineArgs{Tags: []string{fx.Tag}, Architecture: "amd64", MinCPUCount: 1, MinMemory: 1, DryRun: true}, "zone-node"},
		{"AllocateMachine dry_run NotInZone", gomaasapi.AllocateMachineArgs{NotInZone: []string{fx.Zone}, DryRun: true}, "plain-node"},
	})
	h.Check("AllocateMachine no match (cpu_count=9999) → NoMatchError", func() error {
		_, _, err := h.ctrl.AllocateMachine(gomaasapi.AllocateMachineArgs{MinCPUCount: 9999})
		if err == nil {
			return fmt.Errorf("allocated a machine with 9999 CPUs")
		}
		if !gomaasapi.IsNoMatchError(err) {
			return fmt.Errorf("want NoMatchError (HTTP 409), got %T: %v", errors.Cause(err), err)
		}
		return nil
	})
	// The whole Juju path on the machine linked to a subnet (as every commissioned MAAS
	// machine is); then, if that machine could not be allocated through the library, the
	// same path on a machine with no links, so the later steps are still exercised.
	zoneOK := false
	if fx.ZoneSID == "" {
		h.Need("[zone-node] AllocateMachine", "no Ready zone-node (setup)")
	} else {
		zoneOK = h.lifecycle("zone-node", fx.ZoneSID, gomaasapi.AllocateMachineArgs{
			Zone:      fx.Zone,
			Storage:   []gomaasapi.StorageSpec{{Label: "root", Size: 10}},
			AgentName: "juju-model-uuid",
			Comment:   "gomaasapi harness",
		})
	}
	if !zoneOK {
		if fx.ZoneSID != "" {
			// zone-node's subnet link breaks every Machines() list that contains it: release
			// it and drop the link (raw API), so the checks below test their own calls.
			h.isolate(fx.ZoneSID)
			h.dryRuns("[zone-node unlinked] ", []dryRun{
				{"AllocateMachine dry_run storage (root:30, data:10(ssd))", gomaasapi.AllocateMachineArgs{Storage: []gomaasapi.StorageSpec{{Label: "root", Size: 30}, {Label: "data", Size: 10, Tags: []string{"ssd"}}}, DryRun: true}, "zone-node"},
			})
		}
		if fx.PlainSID == "" {
			h.Need("[plain-node] AllocateMachine", "no Ready plain-node (setup)")
			return
		}
		h.lifecycle("plain-node", fx.PlainSID, gomaasapi.AllocateMachineArgs{
			Hostname:  "plain-node",
			Storage:   []gomaasapi.StorageSpec{{Label: "root", Size: 10}},
			AgentName: "juju-model-uuid-2",
			Comment:   "gomaasapi harness",
		})
	}
}

// isolate releases a machine and unlinks its interfaces from their subnets, over the raw API.
func (h *Harness) isolate(sid string) {
	h.raw.post(api+"machines/"+sid+"/?op=release", form("comment", "harness isolate"))
	for i := 0; i < 50; i++ {
		if m, err := h.machineJSON(sid); err == nil && m["status_name"] == "Ready" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	m, err := h.machineJSON(sid)
	if err != nil {
		fmt.Printf("NOTE isolate %s: %v\n", sid, err)
		return
	}
	ifs, _ := m["interface_set"].([]interface{})
	for _, x := range ifs {
		i := x.(map[string]interface{})
		links, _ := i["links"].([]interface{})
		for _, l := range links {
			lid := fmt.Sprint(l.(map[string]interface{})["id"])
			if r := h.raw.post(fmt.Sprintf("%snodes/%s/interfaces/%v/?op=unlink_subnet", api, sid, i["id"]), form("id", lid)); !r.ok() {
				fmt.Printf("NOTE unlink_subnet %s link %s: %s\n", sid, lid, r)
			}
		}
	}
	m, _ = h.machineJSON(sid)
	fmt.Printf("NOTE %s released and unlinked by the harness (now %v) so that later Machines() lists parse\n", sid, m["status_name"])
}

type dryRun struct {
	name string
	args gomaasapi.AllocateMachineArgs
	want string // hostname
}

// dryRuns: AllocateMachine with dry_run, each expecting a given machine.
func (h *Harness) dryRuns(prefix string, runs []dryRun) {
	for _, d := range runs {
		d.name = prefix + d.name

		d := d
		h.Check(d.name, func() error {
			m, matches, err := h.ctrl.AllocateMachine(d.args)
			if err != nil {
				return err
			}
			if m.Hostname() != d.want {
				return fmt.Errorf("allocated %s, want %s", m.Hostname(), d.want)
			}
			for l, ifs := range matches.Interfaces {
				for _, i := range ifs {
					fmt.Printf("     interface match %s → %d %s\n", l, i.ID(), i.Name())
				}
			}
			for l, ss := range matches.Storage {
				for _, s := range ss {
					fmt.Printf("     storage match %s → %d %s size=%d\n", l, s.ID(), s.Type(), s.Size())
				}
			}
			if len(d.args.Storage) > 0 && len(matches.Storage) != len(d.args.Storage) {
				return fmt.Errorf("constraints_by_type.storage has %d labels, want %d", len(matches.Storage), len(d.args.Storage))
			}
			if len(d.args.Interfaces) > 0 && len(matches.Interfaces) != len(d.args.Interfaces) {
				return fmt.Errorf("constraints_by_type.interfaces has %d labels, want %d", len(matches.Interfaces), len(d.args.Interfaces))
			}
			return nil
		})
	}
}

// lifecycle: AllocateMachine (as Juju's acquireNode), Machines(AgentName), SetOwnerData,
// Start, deployment to Deployed, container devices, ReleaseMachines. Returns whether the
// allocation went through the library.
func (h *Harness) lifecycle(label, wantSID string, args gomaasapi.AllocateMachineArgs) bool {
	fx := h.fx
	name := func(s string) string { return "[" + label + "] " + s }
	var m gomaasapi.Machine
	h.Check(name("AllocateMachine (zone/hostname, storage, agent_name, comment)"), func() error {
		var matches gomaasapi.ConstraintMatches
		var err error
		m, matches, err = h.ctrl.AllocateMachine(args)
		if err != nil {
			m = nil
			return err
		}
		if m.SystemID() != wantSID {
			return fmt.Errorf("allocated %s, want %s", m.SystemID(), wantSID)
		}
		if m.StatusName() != "Allocated" {
			return fmt.Errorf("status %q after allocate", m.StatusName())
		}
		if len(matches.Storage["root"]) != 1 {
			return fmt.Errorf("storage match for root: %v", matches.Storage)
		}
		return nil
	})
	if m == nil {
		return false
	}
	agent := args.AgentName
	h.Check(name("Machines(AgentName)"), func() error {
		ms, err := h.ctrl.Machines(gomaasapi.MachinesArgs{AgentName: agent})
		if err != nil {
			return err
		}
		if len(ms) != 1 || ms[0].SystemID() != m.SystemID() {
			return fmt.Errorf("agent_name filter returned %d machines", len(ms))
		}
		return nil
	})
	h.Check(name("Machine.SetOwnerData + Machines(OwnerData)"), func() error {
		if err := m.SetOwnerData(map[string]string{"juju-model-uuid": "abc", "juju-is-controller": "true"}); err != nil {
			return err
		}
		if m.OwnerData()["juju-model-uuid"] != "abc" {
			return fmt.Errorf("owner data after set: %v", m.OwnerData())
		}
		ms, err := h.ctrl.Machines(gomaasapi.MachinesArgs{OwnerData: map[string]string{"juju-model-uuid": "abc"}})
		if err != nil {
			return err
		}
		if len(ms) != 1 {
			return fmt.Errorf("owner data filter matched %d machines", len(ms))
		}
		return nil
	})
	userData := base64.StdEncoding.EncodeToString([]byte("#cloud-config\nruncmd:\n - echo juju\n"))
	started := h.Check(name("Machine.Start(UserData, DistroSeries)"), func() error {
		if err := m.Start(gomaasapi.StartArgs{UserData: userData, DistroSeries: fx.Image, Comment: "juju"}); err != nil {
			return err
		}
		if m.StatusName() != "Deploying" {
			return fmt.Errorf("status %q after deploy, want Deploying", m.StatusName())
		}
		return nil
	})
	if started {
		h.Check(name("deployment reaches Deployed (machine plays cloud-init finish)"), func() error {
			if err := h.reportDeployed(m.SystemID()); err != nil {
				return err
			}
			dm, err := h.waitStatus(m.SystemID(), "Deployed", 15*time.Second)
			if err != nil {
				return err
			}
			if dm.DistroSeries() == "" || dm.OperatingSystem() == "" {
				return fmt.Errorf("Deployed machine has osystem=%q distro_series=%q", dm.OperatingSystem(), dm.DistroSeries())
			}
			fmt.Printf("     %s/%s ips=%v\n", dm.OperatingSystem(), dm.DistroSeries(), dm.IPAddresses())
			return nil
		})
	}
	h.containers(label, m)
	h.Check(name("ReleaseMachines"), func() error {
		if err := h.ctrl.ReleaseMachines(gomaasapi.ReleaseMachinesArgs{SystemIDs: []string{m.SystemID()}, Comment: "juju release"}); err != nil {
			return err
		}
		_, err := h.waitStatus(m.SystemID(), "Ready", 15*time.Second)
		return err
	})
	h.Check(name("ReleaseMachines unknown id → BadRequestError"), func() error {
		err := h.ctrl.ReleaseMachines(gomaasapi.ReleaseMachinesArgs{SystemIDs: []string{"nosuch"}})
		if err == nil {
			return fmt.Errorf("released an unknown machine")
		}
		if !gomaasapi.IsBadRequestError(err) {
			return fmt.Errorf("want BadRequestError (HTTP 400), got %T: %v", errors.Cause(err), err)
		}
		return nil
	})
	return true
}

// standInSubnet is a gomaasapi.Subnet made by the harness from the subnet it created, for
// when the library cannot give one (no Spaces(), links unreadable): LinkSubnet and
// Machine.CreateDevice use only its ID() and VLAN().
type standInSubnet struct {
	id   int
	cidr string
	vlan gomaasapi.VLAN
}

func (s standInSubnet) ID() int              { return s.id }
func (s standInSubnet) Name() string         { return s.cidr }
func (s standInSubnet) Space() string        { return "" }
func (s standInSubnet) VLAN() gomaasapi.VLAN { return s.vlan }
func (s standInSubnet) Gateway() string      { return "192.0.2.1" }
func (s standInSubnet) CIDR() string         { return s.cidr }
func (s standInSubnet) DNSServers() []string { return nil }

func (h *Harness) defaultVLAN() gomaasapi.VLAN {
	fs, err := h.ctrl.Fabrics()
	if err != nil || len(fs) == 0 || len(fs[0].VLANs()) == 0 {
		return nil
	}
	return fs[0].VLANs()[0]
}

// containers: what Juju's provisioner does for a LXD container on a MAAS machine
// (PrepareContainerInterfaceInfo / AllocateContainerAddresses → machine.CreateDevice with the
// host's subnet, then one device.CreateInterface per extra NIC, LinkSubnet, Devices, Delete).
func (h *Harness) containers(label string, m gomaasapi.Machine) {
	name := func(s string) string { return "[" + label + "] " + s }
	var subnet gomaasapi.Subnet
	standIn := false
	if fresh, err := h.machineBySID(m.SystemID()); err == nil {
		for _, i := range fresh.InterfaceSet() {
			for _, l := range i.Links() {
				if l.Subnet() != nil && subnet == nil {
					subnet = l.Subnet()
				}
			}
		}
	}
	if subnet == nil {
		if ss, err := h.ctrl.Spaces(); err == nil {
			for _, s := range ss {
				for _, sn := range s.Subnets() {
					if sn.CIDR() == "192.0.2.0/24" {
						subnet = sn
					}
				}
			}
		}
	}
	if subnet == nil && h.fx.SubnetID != 0 {
		if v := h.defaultVLAN(); v != nil {
			subnet = standInSubnet{id: h.fx.SubnetID, cidr: "192.0.2.0/24", vlan: v}
			standIn = true
			fmt.Printf("     (%s: no Subnet from the library — no link, no Spaces(); the device checks use a stand-in for subnet id %d)\n", label, h.fx.SubnetID)
		}
	}
	var dev gomaasapi.Device
	if subnet == nil {
		h.Need(name("Machine.CreateDevice (with subnet)"), "no subnet object")
	} else {
		h.Check(name("Machine.CreateDevice (with subnet)"), func() error {
			d, err := m.CreateDevice(gomaasapi.CreateMachineDeviceArgs{
				Hostname: "juju-container-" + label, InterfaceName: "eth0", MACAddress: "00:16:3e:00:00:01", Subnet: subnet,
			})
			if err != nil {
				return err
			}
			dev = d
			if d.Parent() != m.SystemID() {
				return fmt.Errorf("device parent %q, want %q", d.Parent(), m.SystemID())
			}
			return nil
		})
	}
	if dev == nil {
		h.Check(name("Controller.CreateDevice (no subnet)"), func() error {
			d, err := h.ctrl.CreateDevice(gomaasapi.CreateDeviceArgs{Hostname: "juju-container-" + label + "-b", MACAddresses: []string{"00:16:3e:00:01:01"}, Parent: m.SystemID()})
			if err != nil {
				return err
			}
			dev = d
			return nil
		})
	}
	if dev == nil {
		h.Need(name("Device.CreateInterface + LinkSubnet"), "no device")
		return
	}
	_ = standIn
	h.Check(name("Device.CreateInterface + Interface.LinkSubnet(STATIC)"), func() error {
		var vlan gomaasapi.VLAN
		if subnet != nil {
			vlan = subnet.VLAN()
		}
		if vlan == nil {
			vlan = h.defaultVLAN()
		}
		if vlan == nil {
			return fmt.Errorf("no VLAN object to create the interface on")
		}
		i, err := dev.CreateInterface(gomaasapi.CreateInterfaceArgs{Name: "eth1", MACAddress: "00:16:3e:00:00:02", VLAN: vlan})
		if err != nil {
			return err
		}
		if subnet == nil {
			return fmt.Errorf("interface created; no subnet to link")
		}
		if err := i.LinkSubnet(gomaasapi.LinkSubnetArgs{Mode: gomaasapi.LinkModeStatic, Subnet: subnet}); err != nil {
			return err
		}
		if len(i.Links()) == 0 || i.Links()[0].IPAddress() == "" {
			return fmt.Errorf("static link has no ip_address: %d links", len(i.Links()))
		}
		return nil
	})
	h.Check(name("Machine.Devices / Controller.Devices(Hostname)"), func() error {
		ds, err := m.Devices(gomaasapi.DevicesArgs{})
		if err != nil {
			return err
		}
		if len(ds) != 1 {
			return fmt.Errorf("machine has %d devices, want 1", len(ds))
		}
		ds, err = h.ctrl.Devices(gomaasapi.DevicesArgs{Hostname: []string{dev.Hostname()}})
		if err != nil {
			return err
		}
		if len(ds) != 1 {
			return fmt.Errorf("hostname filter: %d devices", len(ds))
		}
		if n := len(ds[0].InterfaceSet()); n != 2 {
			return fmt.Errorf("device has %d interfaces, want 2", n)
		}
		return nil
	})
	h.Check(name("Device.Delete"), func() error { return dev.Delete() })
}

// files: Juju's provider storage (maas2storage.go): AddFile, GetFile + ReadAll, Files(prefix),
// the anonymous URL, Delete.
func (h *Harness) files() {
	content := []byte("juju provider-state\x00\x01binary")
	name := "provider-state-harness"
	h.Check("AddFile", func() error {
		return h.ctrl.AddFile(gomaasapi.AddFileArgs{Filename: name, Content: content})
	})
	h.Check("AddFile (Reader, Length)", func() error {
		return h.ctrl.AddFile(gomaasapi.AddFileArgs{Filename: name + "-2", Reader: bytes.NewReader(content), Length: int64(len(content))})
	})
	var f gomaasapi.File
	h.Check("GetFile + ReadAll", func() error {
		var err error
		f, err = h.ctrl.GetFile(name)
		if err != nil {
			f = nil
			return err
		}
		got, err := f.ReadAll()
		if err != nil {
			return err
		}
		if !bytes.Equal(got, content) {
			return fmt.Errorf("content %q, want %q", got, content)
		}
		return nil
	})
	h.Check("Files(prefix) + ReadAll", func() error {
		fs, err := h.ctrl.Files("provider-state-h")
		if err != nil {
			return err
		}
		if len(fs) != 2 {
			return fmt.Errorf("%d files with the prefix, want 2", len(fs))
		}
		for _, x := range fs {
			got, err := x.ReadAll()
			if err != nil {
				return fmt.Errorf("%s: %v", x.Filename(), err)
			}
			if !bytes.Equal(got, content) {
				return fmt.Errorf("%s: content %q", x.Filename(), got)
			}
		}
		return nil
	})
	if f == nil {
		h.Need("File.AnonymousURL", "GetFile failed")
		h.Need("File.Delete", "GetFile failed")
	} else {
		h.Check("File.AnonymousURL (GET without credentials)", func() error {
			u := f.AnonymousURL()
			res, err := http.Get(u)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || !bytes.Equal(b, content) {
				return fmt.Errorf("GET %s: %d %q", u, res.StatusCode, excerpt(string(b), 200))
			}
			return nil
		})
		h.Check("File.Delete", func() error { return f.Delete() })
	}
	h.Check("GetFile of a missing file → NoMatchError", func() error {
		_, err := h.ctrl.GetFile(name)
		if err == nil {
			return fmt.Errorf("file still there")
		}
		if !gomaasapi.IsNoMatchError(err) {
			return fmt.Errorf("want NoMatchError (HTTP 404), got %T: %v", errors.Cause(err), err)
		}
		return nil
	})
}

// Package k8s_test checks the Kubernetes manifests in this directory: every document
// decodes strictly (unknown or duplicate fields refused) into the Kubernetes API's Go
// types or KEDA's, passes KEDA's own ScaledObject checks, and the objects reference
// each other correctly (Secrets and their keys, ConfigMaps, volumes, ports, selectors,
// the ScaledObject's target, the Sentinel URL and the Redis set it names).
//
// This directory is its own Go module so that the Kubernetes and KEDA types (hundreds
// of packages) are not dependencies of swapd itself; `make ops-check` runs it.
package k8s_test

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	keda "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const namespace = "swapd"

// manifests is everything the directory declares, by kind and name.
type manifests struct {
	namespaces   map[string]*corev1.Namespace
	secrets      map[string]*corev1.Secret
	configMaps   map[string]*corev1.ConfigMap
	services     map[string]*corev1.Service
	pvcs         map[string]*corev1.PersistentVolumeClaim
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	jobs         map[string]*batchv1.Job
	pdbs         map[string]*policyv1.PodDisruptionBudget
	scaledObjs   map[string]*keda.ScaledObject
	files        map[string][]string // file -> "Kind/name"
}

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decode decodes one YAML document strictly into the Go type its apiVersion and kind
// name, and files it under m.
func (m *manifests) decode(file string, doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var obj interface {
		GetName() string
		GetNamespace() string
	}
	put := func() {}
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		o := &corev1.Namespace{}
		obj, put = o, func() { m.namespaces[o.Name] = o }
	case "v1 Secret":
		o := &corev1.Secret{}
		obj, put = o, func() { m.secrets[o.Name] = o }
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		obj, put = o, func() { m.configMaps[o.Name] = o }
	case "v1 Service":
		o := &corev1.Service{}
		obj, put = o, func() { m.services[o.Name] = o }
	case "v1 PersistentVolumeClaim":
		o := &corev1.PersistentVolumeClaim{}
		obj, put = o, func() { m.pvcs[o.Name] = o }
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		obj, put = o, func() { m.deployments[o.Name] = o }
	case "apps/v1 StatefulSet":
		o := &appsv1.StatefulSet{}
		obj, put = o, func() { m.statefulSets[o.Name] = o }
	case "batch/v1 Job":
		o := &batchv1.Job{}
		obj, put = o, func() { m.jobs[o.Name] = o }
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		obj, put = o, func() { m.pdbs[o.Name] = o }
	case "keda.sh/v1alpha1 ScaledObject":
		o := &keda.ScaledObject{}
		obj, put = o, func() { m.scaledObjs[o.Name] = o }
	default:
		return fmt.Errorf("apiVersion %q kind %q: not a type this test knows", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if obj.GetName() == "" {
		return fmt.Errorf("%s without a name", tm.Kind)
	}
	if tm.Kind != "Namespace" && obj.GetNamespace() != namespace {
		return fmt.Errorf("%s/%s: namespace %q, want %q", tm.Kind, obj.GetName(), obj.GetNamespace(), namespace)
	}
	put()
	m.files[file] = append(m.files[file], tm.Kind+"/"+obj.GetName())
	return nil
}

func load(t *testing.T, dir string) *manifests {
	t.Helper()
	m := &manifests{
		namespaces: map[string]*corev1.Namespace{}, secrets: map[string]*corev1.Secret{},
		configMaps: map[string]*corev1.ConfigMap{}, services: map[string]*corev1.Service{},
		pvcs: map[string]*corev1.PersistentVolumeClaim{}, deployments: map[string]*appsv1.Deployment{},
		statefulSets: map[string]*appsv1.StatefulSet{}, jobs: map[string]*batchv1.Job{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, scaledObjs: map[string]*keda.ScaledObject{},
		files: map[string][]string{},
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			if err := m.decode(filepath.Base(f), []byte(doc)); err != nil {
				t.Errorf("%s, document %d: %v", filepath.Base(f), i+1, err)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// The decoder really is strict: a misspelt field, a field at the wrong level and a
// duplicate key are each refused, and a wrong kind of value too.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	good := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  namespace: swapd\nspec:\n  replicas: 1\n"
	m := &manifests{deployments: map[string]*appsv1.Deployment{}, files: map[string][]string{}}
	if err := m.decode("t", []byte(good)); err != nil {
		t.Fatalf("a valid Deployment: %v", err)
	}
	for name, doc := range map[string]string{
		"misspelt field":   strings.Replace(good, "replicas:", "replica:", 1),
		"wrong level":      good + "  containers: []\n",
		"duplicate key":    good + "  replicas: 2\n",
		"wrong value type": strings.Replace(good, "replicas: 1", "replicas: three", 1),
		"other namespace":  strings.Replace(good, "namespace: swapd", "namespace: default", 1),
		"unknown kind":     strings.Replace(good, "kind: Deployment", "kind: Deploymnet", 1),
	} {
		if err := m.decode("t", []byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	so := "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: x\n  namespace: swapd\nspec:\n  scaleTargetRef: {name: w}\n  minReplicas: 0\n  triggers: []\n"
	m.scaledObjs = map[string]*keda.ScaledObject{}
	if err := m.decode("t", []byte(so)); err == nil {
		t.Error("a ScaledObject with minReplicas (not a KEDA field) was accepted")
	}
}

func TestManifests(t *testing.T) {
	m := load(t, ".")
	if t.Failed() {
		t.FailNow()
	}

	// The kustomization lists exactly the files there are.
	var k kustomization
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	var files []string
	for f := range m.files {
		files = append(files, f)
	}
	slices.Sort(files)
	res := slices.Clone(k.Resources)
	slices.Sort(res)
	if !slices.Equal(files, res) || k.Namespace != namespace {
		t.Errorf("kustomization.yaml: namespace %q resources %v, want %q and the files %v", k.Namespace, res, namespace, files)
	}
	if m.namespaces[namespace] == nil {
		t.Errorf("no Namespace %q", namespace)
	}

	// Every pod template's references resolve.
	type workload struct {
		kind, name string
		selector   *metav1.LabelSelector
		pod        *corev1.PodTemplateSpec
		claims     []string // volumeClaimTemplates
	}
	var workloads []workload
	for _, d := range m.deployments {
		workloads = append(workloads, workload{"Deployment", d.Name, d.Spec.Selector, &d.Spec.Template, nil})
	}
	for _, s := range m.statefulSets {
		var claims []string
		for _, c := range s.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		workloads = append(workloads, workload{"StatefulSet", s.Name, s.Spec.Selector, &s.Spec.Template, claims})
	}
	for _, j := range m.jobs {
		workloads = append(workloads, workload{"Job", j.Name, nil, &j.Spec.Template, nil})
	}
	for _, w := range workloads {
		where := w.kind + "/" + w.name
		if w.selector != nil {
			sel, err := metav1.LabelSelectorAsSelector(w.selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(w.pod.Labels)) {
				t.Errorf("%s: selector %v does not match its pod labels %v (%v)", where, w.selector, w.pod.Labels, err)
			}
		}
		checkPod(t, m, where, &w.pod.Spec, w.claims)
	}

	// Services and PodDisruptionBudgets select pods that exist, on ports they have.
	podsMatching := func(sel labels.Selector) []*corev1.PodTemplateSpec {
		var out []*corev1.PodTemplateSpec
		for _, w := range workloads {
			if w.selector != nil && !sel.Empty() && sel.Matches(labels.Set(w.pod.Labels)) {
				out = append(out, w.pod)
			}
		}
		return out
	}
	for _, s := range m.services {
		pods := podsMatching(labels.SelectorFromSet(s.Spec.Selector))
		if len(pods) == 0 {
			t.Errorf("Service/%s selects no pods (%v)", s.Name, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.StrVal != "" && containerPort(&pods[0].Spec, p.TargetPort.StrVal) == 0 {
				t.Errorf("Service/%s: targetPort %q is no container port of its pods", s.Name, p.TargetPort.StrVal)
			}
		}
	}
	for _, p := range m.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || len(podsMatching(sel)) == 0 {
			t.Errorf("PodDisruptionBudget/%s selects no pods (%v)", p.Name, err)
		}
	}

	checkAPI(t, m)
	checkWorker(t, m)
	checkScrapeConfig(t, m)
	checkScaledObject(t, m)
	checkRedis(t, m)
}

// checkPod resolves a pod spec's Secrets, ConfigMaps, PVCs, $(VAR) references and
// probe ports.
func checkPod(t *testing.T, m *manifests, where string, spec *corev1.PodSpec, claimTemplates []string) {
	t.Helper()
	volumes := map[string]bool{}
	for _, c := range claimTemplates {
		volumes[c] = true
	}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		switch {
		case v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil:
			t.Errorf("%s: volume %s: no ConfigMap %q", where, v.Name, v.ConfigMap.Name)
		case v.Secret != nil && m.secrets[v.Secret.SecretName] == nil:
			t.Errorf("%s: volume %s: no Secret %q", where, v.Name, v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil && m.pvcs[v.PersistentVolumeClaim.ClaimName] == nil:
			t.Errorf("%s: volume %s: no PersistentVolumeClaim %q", where, v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	containers := append(slices.Clone(spec.InitContainers), spec.Containers...)
	if len(spec.Containers) == 0 {
		t.Errorf("%s: no containers", where)
	}
	for _, c := range containers {
		cw := where + " container " + c.Name
		if c.Image == "" {
			t.Errorf("%s: no image", cw)
		}
		for _, vm := range c.VolumeMounts {
			if !volumes[vm.Name] {
				t.Errorf("%s: mounts volume %q that the pod does not have", cw, vm.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil && m.configMaps[ef.ConfigMapRef.Name] == nil {
				t.Errorf("%s: envFrom: no ConfigMap %q", cw, ef.ConfigMapRef.Name)
			}
			if ef.SecretRef != nil && m.secrets[ef.SecretRef.Name] == nil {
				t.Errorf("%s: envFrom: no Secret %q", cw, ef.SecretRef.Name)
			}
		}
		defined := map[string]bool{}
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				if r := e.ValueFrom.SecretKeyRef; r != nil && !secretHas(m, r.Name, r.Key) {
					t.Errorf("%s: env %s: Secret %q has no key %q", cw, e.Name, r.Name, r.Key)
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil && (m.configMaps[r.Name] == nil || m.configMaps[r.Name].Data[r.Key] == "") {
					t.Errorf("%s: env %s: ConfigMap %q has no key %q", cw, e.Name, r.Name, r.Key)
				}
			}
			for _, ref := range regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).FindAllStringSubmatch(e.Value, -1) {
				if !defined[ref[1]] { // the kubelet expands only variables defined before
					t.Errorf("%s: env %s uses $(%s) before it is defined", cw, e.Name, ref[1])
				}
			}
			defined[e.Name] = true
		}
		for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if p == nil {
				continue
			}
			var port string
			switch {
			case p.HTTPGet != nil:
				port = p.HTTPGet.Port.StrVal
			case p.TCPSocket != nil:
				port = p.TCPSocket.Port.StrVal
			}
			if port != "" && containerPort(&corev1.PodSpec{Containers: []corev1.Container{c}}, port) == 0 {
				t.Errorf("%s: probe on port %q, which the container does not declare", cw, port)
			}
		}
	}
}

func secretHas(m *manifests, name, key string) bool {
	s := m.secrets[name]
	if s == nil {
		return false
	}
	_, inData := s.Data[key]
	_, inString := s.StringData[key]
	return inData || inString
}

func containerPort(spec *corev1.PodSpec, name string) int32 {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
	}
	return 0
}

func container(t *testing.T, m *manifests, deployment, name string) *corev1.Container {
	t.Helper()
	d := m.deployments[deployment]
	if d == nil {
		t.Fatalf("no Deployment %q", deployment)
	}
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == name {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container %q", deployment, name)
	return nil
}

func env(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// setting is a swapd setting as the container gets it: from env or a ConfigMap.
func setting(m *manifests, c *corev1.Container, name string) string {
	if e := env(c, name); e != nil {
		return e.Value
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && m.configMaps[ef.ConfigMapRef.Name] != nil {
			if v, ok := m.configMaps[ef.ConfigMapRef.Name].Data[name]; ok {
				return v
			}
		}
	}
	return ""
}

func fromSecret(t *testing.T, c *corev1.Container, name, secret string) {
	t.Helper()
	e := env(c, name)
	if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secret || e.ValueFrom.SecretKeyRef.Key != name {
		t.Errorf("container %s: %s must come from Secret %s key %s, got %+v", c.Name, name, secret, name, e)
	}
}

func checkAPI(t *testing.T, m *manifests) {
	d := m.deployments["swapd-api"]
	c := container(t, m, "swapd-api", "api")
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("swapd-api: replicas %v, want at least 2 (stateless, spread)", d.Spec.Replicas)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("swapd-api: readiness probe %+v, want GET /readyz", p)
	}
	port := containerPort(&d.Spec.Template.Spec, "http")
	if addr := setting(m, c, "SWAPD_ADDR"); !strings.HasSuffix(addr, ":"+strconv.Itoa(int(port))) || !strings.HasPrefix(addr, "0.0.0.0:") {
		t.Errorf("swapd-api: SWAPD_ADDR %q does not listen on all interfaces at container port %d", addr, port)
	}
	for _, k := range []string{"SWAPD_API_KEYS", "SWAPD_ADMIN_KEYS"} {
		fromSecret(t, c, k, "swapd-keys")
	}
	for _, k := range []string{"SWAPD_S3_ACCESS_KEY", "SWAPD_S3_SECRET_KEY"} {
		fromSecret(t, c, k, "swapd-s3")
	}
	if len(c.Resources.Limits) > 0 && !c.Resources.Limits.Name("nvidia.com/gpu", resource.DecimalSI).IsZero() {
		t.Error("swapd-api asks for a GPU")
	}
}

func checkWorker(t *testing.T, m *manifests) {
	d := m.deployments["swapd-worker"]
	c := container(t, m, "swapd-worker", "worker")
	if d.Spec.Replicas != nil {
		t.Errorf("swapd-worker sets replicas (%d): KEDA owns the count, a re-apply would fight it", *d.Spec.Replicas)
	}
	gpu := c.Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]
	if gpu.Value() != 1 {
		t.Errorf("swapd-worker: nvidia.com/gpu limit %s, want 1 (one pod per GPU)", gpu.String())
	}
	if devs := setting(m, c, "SWAPD_DEVICES"); devs != "cuda:0" {
		t.Errorf("swapd-worker: SWAPD_DEVICES %q, want cuda:0 (the pod's one GPU)", devs)
	}
	// Readiness is the worker's own /readyz (503 until warm) on the metrics address.
	p := c.ReadinessProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Fatalf("swapd-worker: readiness probe %+v, want GET /readyz", p)
	}
	port := containerPort(&d.Spec.Template.Spec, p.HTTPGet.Port.StrVal)
	if addr := setting(m, c, "SWAPD_METRICS_ADDR"); addr != fmt.Sprintf("0.0.0.0:%d", port) {
		t.Errorf("swapd-worker: SWAPD_METRICS_ADDR %q, but readiness probes port %d", addr, port)
	}
	for _, k := range []string{"SWAPD_WEBHOOK_SECRET", "SWAPD_ADMIN_KEYS"} {
		fromSecret(t, c, k, "swapd-keys")
	}
	// Models come from a claim mounted read-only where SWAPD_MODELS_DIR points, and
	// the models Job downloads into that claim.
	dir := setting(m, c, "SWAPD_MODELS_DIR")
	claim := ""
	for _, vm := range c.VolumeMounts {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.PersistentVolumeClaim != nil && vm.MountPath == dir && vm.ReadOnly {
				claim = v.PersistentVolumeClaim.ClaimName
			}
		}
	}
	filled := false
	for _, j := range m.jobs {
		js := j.Spec.Template.Spec
		for _, v := range js.Volumes {
			if claim != "" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
				cmd := js.Containers[0].Command
				filled = filled || (slices.Contains(cmd, "download") && slices.Contains(cmd, js.Containers[0].VolumeMounts[0].MountPath))
			}
		}
	}
	if claim == "" || !filled {
		t.Errorf("swapd-worker: SWAPD_MODELS_DIR %q is not a read-only claim (%q) that a models Job downloads into", dir, claim)
	}
	// SIGTERM leaves running jobs SWAPD_SHUTDOWN_TIMEOUT; the kubelet must wait longer.
	st, err := time.ParseDuration(setting(m, c, "SWAPD_SHUTDOWN_TIMEOUT"))
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if err != nil || grace == nil || time.Duration(*grace)*time.Second <= st {
		t.Errorf("swapd-worker: terminationGracePeriodSeconds %v not above SWAPD_SHUTDOWN_TIMEOUT %v (%v)", grace, st, err)
	}
}

func checkScaledObject(t *testing.T, m *manifests) {
	so := m.scaledObjs["swapd-worker"]
	if so == nil {
		t.Fatal("no ScaledObject swapd-worker")
	}
	// KEDA's own admission checks.
	if err := keda.ValidateTriggers(so.Spec.Triggers); err != nil {
		t.Errorf("ScaledObject triggers: %v", err)
	}
	if err := keda.CheckReplicaCountBoundsAreValid(so); err != nil {
		t.Errorf("ScaledObject replica bounds: %v", err)
	}
	if err := keda.CheckFallbackValid(so); err != nil {
		t.Errorf("ScaledObject fallback: %v", err)
	}
	ref := so.Spec.ScaleTargetRef
	if ref == nil || m.deployments[ref.Name] == nil || ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" {
		t.Fatalf("ScaledObject targets %+v, not a Deployment in these manifests", ref)
	}
	if ref.Name != "swapd-worker" {
		t.Errorf("ScaledObject scales %s, not the GPU workers", ref.Name)
	}
	if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount != 0 {
		t.Errorf("minReplicaCount %v, want 0 (no GPU while idle)", ptrString(so.Spec.MinReplicaCount))
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "prometheus" {
		t.Fatalf("triggers %+v, want one prometheus trigger", so.Spec.Triggers)
	}
	md := so.Spec.Triggers[0].Metadata
	for _, k := range []string{"serverAddress", "query", "threshold", "activationThreshold"} {
		if md[k] == "" {
			t.Errorf("prometheus trigger without %s", k)
		}
	}
	if _, err := url.Parse(md["serverAddress"]); err != nil || !strings.HasPrefix(md["serverAddress"], "http") {
		t.Errorf("serverAddress %q", md["serverAddress"])
	}
	if !strings.Contains(md["query"], `queue=~"swap(-backlog|-[0-9]+|-p[0-9a-f]+)?"`) {
		t.Errorf("query %q does not look at every swap lane", md["query"])
	}
	// The per-worker target is the worker's slots: each pod holds that many jobs.
	slots := setting(m, container(t, m, "swapd-worker", "worker"), "SWAPD_SLOTS_PER_DEVICE")
	if md["threshold"] != slots {
		t.Errorf("threshold %q, want the worker's slots %q", md["threshold"], slots)
	}
}

// checkRedis: Sentinel HA, and the redis-sentinel:// URL of both binaries names its
// sentinels, its master and its password Secret.
func checkRedis(t *testing.T, m *manifests) {
	ss := m.statefulSets["redis"]
	if ss == nil || ss.Spec.Replicas == nil || *ss.Spec.Replicas < 3 {
		t.Fatalf("Redis StatefulSet %v: want 3 replicas (a primary, two replicas, three sentinels)", ss)
	}
	svc := m.services[ss.Spec.ServiceName]
	if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("Redis StatefulSet's service %q is missing or not headless", ss.Spec.ServiceName)
	}
	var sentinelPort int32
	for _, p := range svc.Spec.Ports {
		if p.Name == "sentinel" {
			sentinelPort = p.Port
		}
	}
	init := m.configMaps["redis-scripts"].Data["init.sh"]
	mon := regexp.MustCompile(`sentinel monitor (\S+) \S+ 6379 (\d+)`).FindStringSubmatch(init)
	if mon == nil {
		t.Fatal("redis-scripts init.sh configures no sentinel monitor")
	}
	if q, _ := strconv.Atoi(mon[2]); q <= int(*ss.Spec.Replicas)/2 {
		t.Errorf("sentinel quorum %d is not a majority of %d", q, *ss.Spec.Replicas)
	}
	want := []string{}
	for i := 0; i < int(*ss.Spec.Replicas); i++ {
		want = append(want, fmt.Sprintf("%s-%d.%s:%d", ss.Name, i, svc.Name, sentinelPort))
	}
	for _, name := range []string{"swapd-api", "swapd-worker"} {
		d := m.deployments[name]
		c := &d.Spec.Template.Spec.Containers[0]
		raw := setting(m, c, "SWAPD_REDIS_URL")
		u, err := url.Parse(strings.ReplaceAll(raw, "$(SWAPD_REDIS_PASSWORD)", "pw"))
		if err != nil || u.Scheme != "redis-sentinel" {
			t.Errorf("%s: SWAPD_REDIS_URL %q is not a redis-sentinel:// URL (%v)", name, raw, err)
			continue
		}
		if hosts := strings.Split(u.Host, ","); !slices.Equal(hosts, want) {
			t.Errorf("%s: sentinels %v, want %v", name, hosts, want)
		}
		if u.Query().Get("master") != mon[1] {
			t.Errorf("%s: master %q, the sentinels monitor %q", name, u.Query().Get("master"), mon[1])
		}
		if pw, _ := u.User.Password(); pw != "pw" {
			t.Errorf("%s: the URL's password is not $(SWAPD_REDIS_PASSWORD)", name)
		}
		if e := env(c, "SWAPD_REDIS_PASSWORD"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "swapd-redis" {
			t.Errorf("%s: SWAPD_REDIS_PASSWORD does not come from Secret swapd-redis", name)
		}
	}
	// The data nodes keep what asynq writes: AOF on, nothing evicted.
	for _, line := range []string{"appendonly yes", "maxmemory-policy noeviction"} {
		if !bytes.Contains([]byte(init), []byte(line)) {
			t.Errorf("redis.conf lacks %q", line)
		}
	}
}

// checkScrapeConfig: deploy/prometheus/prometheus-k8s.yml finds every API pod and every
// worker (warming ones too) through headless Services of these manifests, on the ports
// the containers serve /metrics on.
func checkScrapeConfig(t *testing.T, m *manifests) {
	var cfg struct {
		ScrapeConfigs []struct {
			JobName string `json:"job_name"`
			DNSSD   []struct {
				Names []string `json:"names"`
				Type  string   `json:"type"`
				Port  int32    `json:"port"`
			} `json:"dns_sd_configs"`
		} `json:"scrape_configs"`
	}
	b, err := os.ReadFile("../prometheus/prometheus-k8s.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		deployment, port string
		notReady         bool
	}{
		"swapd-api":    {"swapd-api", "http", false},
		"swapd-worker": {"swapd-worker", "metrics", true},
	}
	for _, sc := range cfg.ScrapeConfigs {
		w, ok := want[sc.JobName]
		if !ok {
			continue
		}
		delete(want, sc.JobName)
		if len(sc.DNSSD) != 1 || len(sc.DNSSD[0].Names) != 1 {
			t.Errorf("job %s: want one dns_sd_configs name", sc.JobName)
			continue
		}
		sd := sc.DNSSD[0]
		svcName, ok := strings.CutSuffix(sd.Names[0], "."+namespace+".svc.cluster.local")
		svc := m.services[svcName]
		if !ok || svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || sd.Type != "A" {
			t.Errorf("job %s: %s (%s) is not a headless Service of these manifests", sc.JobName, sd.Names[0], sd.Type)
			continue
		}
		d := m.deployments[w.deployment]
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("job %s: Service %s does not select %s's pods", sc.JobName, svcName, w.deployment)
		}
		if p := containerPort(&d.Spec.Template.Spec, w.port); p != sd.Port {
			t.Errorf("job %s scrapes port %d, %s serves /metrics on %d", sc.JobName, sd.Port, w.deployment, p)
		}
		if svc.Spec.PublishNotReadyAddresses != w.notReady {
			t.Errorf("Service %s: publishNotReadyAddresses %v, want %v", svcName, svc.Spec.PublishNotReadyAddresses, w.notReady)
		}
	}
	for job := range want {
		t.Errorf("prometheus-k8s.yml has no scrape job %s", job)
	}
}

func ptrString(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}

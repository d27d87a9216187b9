// Command kubestrict validates rendered Kubernetes manifests offline: each document of the
// YAML streams on stdin is decoded strictly into the typed Kubernetes API objects of
// k8s.io/api, so an unknown or misspelt field, a wrong type or an unknown kind/apiVersion
// fails. (kubeconform would do this from JSON schemas it downloads from GitHub, which the
// build machines cannot reach.) Custom resources whose CRD is in -crds DIR (crd.go: cert-manager's
// Certificate, Prometheus Operator's ServiceMonitor and PodMonitor) are validated against its
// schema; other kinds of CRD groups (serving.kserve.io) are skipped.
//
//	helm template ... | kubestrict -crds helm/kubestrict/crds
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// skipped are API groups served by CRDs, not built into Kubernetes.
var skipped = []string{"monitoring.coreos.com/", "serving.kserve.io/"}

func main() {
	crdDir := flag.String("crds", "", "a folder of CustomResourceDefinition YAML files to validate custom resources against")
	flag.Parse()
	crds := crdSchemas{}
	if *crdDir != "" {
		var err error
		if crds, err = loadCRDs(*crdDir); err != nil {
			fmt.Fprintln(os.Stderr, "kubestrict:", err)
			os.Exit(2)
		}
	}
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	checked, failed := 0, 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubestrict:", err)
			os.Exit(2)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			fmt.Fprintf(os.Stderr, "kubestrict: a document without kind: %v\n", err)
			failed++
			continue
		}
		if known, problems := crds.check(head.APIVersion, head.Kind, doc); known {
			checked++
			for _, problem := range problems {
				fmt.Fprintf(os.Stderr, "kubestrict: %s %s: %s\n", head.Kind, head.Metadata.Name, problem)
			}
			if len(problems) > 0 {
				failed++
			}
			continue
		}
		if skip(head.APIVersion) {
			continue
		}
		checked++
		if _, _, err := decoder.Decode(doc, nil, nil); err != nil {
			fmt.Fprintf(os.Stderr, "kubestrict: %s %s: %v\n", head.Kind, head.Metadata.Name, err)
			failed++
		}
	}
	fmt.Printf("kubestrict: %d objects checked, %d invalid\n", checked, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func skip(apiVersion string) bool {
	for _, prefix := range skipped {
		if strings.HasPrefix(apiVersion, prefix) {
			return true
		}
	}
	return false
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

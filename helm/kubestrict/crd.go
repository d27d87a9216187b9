package main

// Custom resources checked against the openAPIV3Schema of their real CustomResourceDefinition
// (crds/*.yaml, copied from the projects that own them; crds/README.md), the way the API server
// does on create: kube-openapi's schema validation (types, enums, required, patterns) plus strict
// field validation (a field the structural schema does not know is an error, as with
// `kubectl apply --validate=strict`). CEL rules (x-kubernetes-validations) are not evaluated.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"sigs.k8s.io/yaml"
)

type crdVersion struct {
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
}

// crdSchemas maps "group/version Kind" to the schema of that served version.
type crdSchemas map[string]crdVersion

func loadCRDs(dir string) (crdSchemas, error) {
	out := crdSchemas{}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				return nil, fmt.Errorf("%s %s: %w", file, v.Name, err)
			}
			validator, _, err := validation.NewSchemaValidator(internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", file, v.Name, err)
			}
			structural, err := structuralschema.NewStructural(internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: not a structural schema: %w", file, v.Name, err)
			}
			out[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = crdVersion{validator, structural}
		}
	}
	return out, nil
}

// check returns whether a schema is known for the object, and the object's errors against it.
func (c crdSchemas) check(apiVersion, kind string, doc []byte) (bool, []string) {
	schema, ok := c[apiVersion+" "+kind]
	if !ok {
		return false, nil
	}
	var obj map[string]interface{}
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return true, []string{err.Error()}
	}
	var problems []string
	for _, err := range validation.ValidateCustomResource(nil, obj, schema.validator) {
		problems = append(problems, err.Error())
	}
	unknown := pruning.PruneWithOptions(obj, schema.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		problems = append(problems, fmt.Sprintf("unknown field %q", path))
	}
	return true, problems
}

func (c crdSchemas) String() string {
	var kinds []string
	for k := range c {
		kinds = append(kinds, k)
	}
	return strings.Join(kinds, ", ")
}

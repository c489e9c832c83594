package sigma

import (
	"fmt"
	"os"

	"github.com/goccy/go-yaml"
)

// ConfigFile is the YAML form of the detection configuration:
//
//	logsources:            # extend or override the logsource table
//	  - product: acme
//	    service: vpn
//	    types: [syslog]
//	    fields: {user: user.name}
//	placeholders:          # values of %name% for the expand modifier
//	  Admins: [alice, bob]
//	limits:                # correlation state
//	  max_groups: 200000
//	  max_entries: 1000
type ConfigFile struct {
	Logsources   []LogsourceMapping  `yaml:"logsources"`
	Placeholders map[string][]string `yaml:"placeholders"`
	Limits       struct {
		MaxGroups   int `yaml:"max_groups"`
		MaxEntries  int `yaml:"max_entries"`
		MaxEventIDs int `yaml:"max_event_ids"`
	} `yaml:"limits"`
}

// LoadConfig reads a detection configuration file.
func LoadConfig(path string) (*Config, Limits, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Limits{}, err
	}
	var f ConfigFile
	if err := yaml.UnmarshalWithOptions(b, &f, yaml.Strict()); err != nil {
		return nil, Limits{}, fmt.Errorf("%s: %s", path, yaml.FormatError(err, false, false))
	}
	for i, m := range f.Logsources {
		if len(m.Types) == 0 {
			return nil, Limits{}, fmt.Errorf("%s: logsources[%d] has no types", path, i)
		}
	}
	return &Config{Logsources: f.Logsources, Placeholders: f.Placeholders},
		Limits{MaxGroups: f.Limits.MaxGroups, MaxEntries: f.Limits.MaxEntries, MaxEventIDs: f.Limits.MaxEventIDs}, nil
}

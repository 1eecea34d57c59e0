// Package registrytest starts a real schema registry for tests: Apicurio
// Registry, which serves Confluent's schema registry API under
// /apis/ccompat/v7, with its schemas in memory. Confluent's own registry
// is not on Maven Central; Apicurio is, as a Quarkus application that mvn
// builds here into one jar (the first time about 30 s and 210 MB of
// downloads; cached under $WEIR_CACHE, default ~/.cache/weir), run on the
// machine's JDK.
//
// Apicurio 2.4.2.Final is the newest release whose parts are all on Maven
// Central and that runs on Java 17 (3.x needs Java 21 and modules that are
// not published there).
//
// This package is for tests only.
package registrytest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/testpeer"
)

// Version is the Apicurio Registry release the tests run.
const Version = "2.4.2.Final"

// The pom builds the registry app into an uber-jar with the Quarkus
// plugin. Two pins make it build from Central alone: the everit JSON
// Schema library is taken under its Central coordinates (the app names
// its jitpack ones), and the config-index extension at 0.1.10.Final, the
// newest with a Quarkus deployment artifact on Central.
const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir.test</groupId>
  <artifactId>schema-registry</artifactId>
  <version>1</version>
  <packaging>jar</packaging>
  <properties>
    <apicurio.version>` + Version + `</apicurio.version>
    <quarkus.version>2.16.4.Final</quarkus.version>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <quarkus.index-dependency.registry.group-id>io.apicurio</quarkus.index-dependency.registry.group-id>
    <quarkus.index-dependency.registry.artifact-id>apicurio-registry-app</quarkus.index-dependency.registry.artifact-id>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>io.apicurio</groupId>
        <artifactId>apicurio-registry</artifactId>
        <version>${apicurio.version}</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
      <dependency>
        <groupId>io.apicurio</groupId>
        <artifactId>apicurio-common-app-components-config-index</artifactId>
        <version>0.1.10.Final</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId>
      <artifactId>apicurio-registry-app</artifactId>
      <version>${apicurio.version}</version>
      <exclusions>
        <exclusion>
          <groupId>com.github.everit-org.json-schema</groupId>
          <artifactId>org.everit.json.schema</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>com.github.erosb</groupId>
      <artifactId>everit-json-schema</artifactId>
      <version>1.14.2</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>io.quarkus</groupId>
        <artifactId>quarkus-maven-plugin</artifactId>
        <version>${quarkus.version}</version>
        <executions>
          <execution>
            <goals><goal>build</goal></goals>
          </execution>
        </executions>
      </plugin>
    </plugins>
  </build>
</project>
`

// Jar returns the registry's jar, building it with Maven the first time.
func Jar() (string, error) {
	cache, err := testpeer.Cache()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "apicurio-"+Version)
	jar := filepath.Join(dir, "registry.jar")
	if _, err := os.Stat(jar); err == nil {
		return jar, nil
	}
	// Test packages run at once: one builds, the others wait for it.
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(cache, "apicurio.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(jar); err == nil {
		return jar, nil
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s is not installed; the Avro tests run a real schema registry on the JDK (apt-get install openjdk-17-jre-headless maven)", tool)
		}
	}
	build, err := os.MkdirTemp(cache, "apicurio-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(build)
	if err := os.WriteFile(filepath.Join(build, "pom.xml"), []byte(pom), 0o644); err != nil {
		return "", err
	}
	// The package type must be a system property: the app's own
	// application.properties asks for a legacy jar beside a lib/ folder.
	cmd := exec.Command("mvn", "-q", "-B", "package", "-Dquarkus.package.type=uber-jar")
	cmd.Dir = build
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cannot build Apicurio Registry %s from Maven Central: %v\n%s", Version, err, out)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(build, "target", "schema-registry-1-runner.jar"), jar); err != nil {
		return "", err
	}
	return jar, nil
}

// Registry is a running schema registry.
type Registry struct {
	URL string // Confluent's API: http://127.0.0.1:PORT/apis/ccompat/v7
	cmd *exec.Cmd
}

// Start starts a registry with no schemas; it is stopped when the test
// ends.
func Start(t testing.TB) *Registry {
	t.Helper()
	jar, err := Jar()
	if err != nil {
		t.Fatal(err)
	}
	port := testpeer.Port(t)
	logf, err := os.Create(filepath.Join(t.TempDir(), "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("java", "-Xmx256m", "-Dquarkus.http.host=127.0.0.1", fmt.Sprintf("-Dquarkus.http.port=%d", port), "-jar", jar)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &Registry{URL: fmt.Sprintf("http://127.0.0.1:%d/apis/ccompat/v7", port), cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(r.URL + "/subjects")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("the schema registry did not start within 60 s: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

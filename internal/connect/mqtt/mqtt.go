// Package mqtt is the MQTT source: devices publish to topics, the source
// subscribes with a persistent session at QoS 1 and feeds a stream, and it
// acknowledges each message only once the message is durable in Weir. The
// broker holds what Weir has not acknowledged, so a burst, a slow stream or
// a restart loses nothing.
//
// It uses the connector API and Eclipse Paho (autopaho, MQTT 5); it must
// not import the node, the lake or the query engine.
package mqtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/schema"
)

// Spec declares the source's settings.
var Spec = &spec.Spec{
	Type:    "mqtt",
	Summary: "Subscribes to MQTT topics (MQTT 5, QoS 1, a persistent session) and feeds a stream, at least once.",
	Doc: `Each message's payload is one event, JSON, validated against the stream's
schema; a payload that fails goes to the quarantine with its topic as origin.
If the stream's schema declares a ` + "`_topic`" + ` column, it gets the topic the message
came on (e.g. ` + "`sensors/42/temp`" + ` for the filter ` + "`sensors/+/temp`" + `): use one source per
stream, with wildcards in ` + "`topics`" + `.

At least once: the source acknowledges a message (PUBACK) only after the
batch holding it is durable in Weir's log. Until then the broker keeps it, in
the persistent session (` + "`client_id`" + `, ` + "`session_expiry`" + `), and sends no more than
` + "`receive_maximum`" + ` unacknowledged messages: a burst, a stream over its backlog
limit, a restart of Weir or a lost connection wait in the broker, not in
Weir's memory, and nothing is dropped. A message can arrive twice after a
crash between the write and the acknowledgement (MQTT has no offsets to
store). Configure the broker to queue enough for a session (Mosquitto:
` + "`max_queued_messages 0`" + `; its default of 1000 drops QoS 1 messages past it).
` + "`${NAME}`" + ` in ` + "`password`" + ` is replaced from the environment.`,
	Fields: []spec.Field{
		{Name: "broker", Kind: spec.Strings, Required: true, Doc: "broker URLs, `mqtt://host:1883` or `tls://host:8883` (several for failover)"},
		{Name: "topics", Kind: spec.Strings, Required: true, Doc: "topic filters to subscribe to, with `+` and `#` wildcards"},
		{Name: "client_id", Kind: spec.String, Doc: "the MQTT client id, which names the persistent session; default `weir-<source name>`"},
		{Name: "session_expiry", Kind: spec.Duration, Default: "24h", Doc: "how long the broker keeps the session (and its messages) while Weir is away"},
		{Name: "receive_maximum", Kind: spec.Int, Default: "1000", Min: 1, Max: 65535, Doc: "unacknowledged messages the broker may send at once: Weir's in-memory buffer"},
		{Name: "max_batch", Kind: spec.Int, Default: "1000", Min: 1, Max: 65535, Doc: "messages per ingest batch at most"},
		{Name: "linger", Kind: spec.Duration, Default: "20ms", Doc: "how long to wait for more messages before a smaller batch"},
		{Name: "username", Kind: spec.String, Doc: "user name, if the broker wants one"},
		{Name: "password", Kind: spec.String, Doc: "password; write `${MQTT_PASSWORD}` and keep it in the environment"},
	},
	Example: `sources:
  fleet:
    type: mqtt
    stream: readings
    broker: [mqtt://mqtt.example.com:1883]
    topics: ["sensors/+/reading"]`,
}

func init() { connect.RegisterSource(Spec, New) }

// Source subscribes to a set of topic filters.
type Source struct {
	env         connect.Env
	brokers     []*url.URL
	topics      []string
	clientID    string
	expiry      time.Duration
	receiveMax  uint16
	maxBatch    int
	linger      time.Duration
	username    string
	password    string
	topicColumn bool
}

// New checks the settings and builds the source.
func New(v spec.Values, env connect.Env) (connect.Source, error) {
	s := &Source{env: env, topics: v.Strings("topics"), clientID: v.String("client_id"), expiry: v.Duration("session_expiry"),
		receiveMax: uint16(v.Int("receive_maximum")), maxBatch: int(v.Int("max_batch")), linger: v.Duration("linger"),
		username: v.String("username"), password: os.ExpandEnv(v.String("password"))}
	if s.env.Logger == nil {
		s.env.Logger = slog.Default()
	}
	for _, b := range v.Strings("broker") {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "mqtt" && u.Scheme != "tcp" && u.Scheme != "tls" && u.Scheme != "ssl" && u.Scheme != "mqtts") || u.Host == "" {
			return nil, fmt.Errorf("source %s: broker %q is not a URL like mqtt://host:1883 or tls://host:8883", env.Name, b)
		}
		s.brokers = append(s.brokers, u)
	}
	for _, t := range s.topics {
		if err := checkFilter(t); err != nil {
			return nil, fmt.Errorf("source %s: topics: %q: %v", env.Name, t, err)
		}
	}
	if s.clientID == "" {
		s.clientID = "weir-" + env.Name
	}
	if env.Schema != nil {
		s.topicColumn = env.Schema.ColumnIndex("_topic") >= 0
	}
	if s.linger <= 0 {
		s.linger = 20 * time.Millisecond
	}
	s.env.Logger = s.env.Logger.With("source", env.Name, "client_id", s.clientID)
	return s, nil
}

// checkFilter applies MQTT's rules for wildcards in a topic filter.
func checkFilter(f string) error {
	if f == "" {
		return errors.New("an empty filter")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return errors.New("# must be the last level")
		case strings.Contains(l, "#") && l != "#", strings.Contains(l, "+") && l != "+":
			return errors.New("a wildcard must be a whole level (sensors/+/temp, sensors/#)")
		}
	}
	return nil
}

// message is a received publish, waiting to be durable and acknowledged.
type message struct {
	pub    *paho.Publish
	client *paho.Client
}

// Run subscribes until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	msgs := make(chan message, int(s.receiveMax)) // the broker sends at most receiveMax unacknowledged
	var subs []paho.SubscribeOptions
	for _, t := range s.topics {
		subs = append(subs, paho.SubscribeOptions{Topic: t, QoS: 1})
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	receiveMax := s.receiveMax
	expiry := uint32(s.expiry / time.Second)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    s.brokers,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         expiry,
		ConnectUsername:               s.username,
		ConnectPassword:               []byte(s.password),
		ReconnectBackoff: func(attempt int) time.Duration {
			d := min(time.Duration(1<<min(attempt, 6))*100*time.Millisecond, 10*time.Second)
			return d/2 + rand.N(d/2+1)
		},
		ConnectPacketBuilder: func(c *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if c.Properties == nil {
				c.Properties = &paho.ConnectProperties{}
			}
			c.Properties.ReceiveMaximum = &receiveMax
			return c, nil
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, ca *paho.Connack) {
			s.env.Logger.Info("mqtt source connected", "session_present", ca.SessionPresent)
			go func() {
				sctx, cancel := context.WithTimeout(runCtx, 10*time.Second)
				defer cancel()
				if _, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: subs}); err != nil && runCtx.Err() == nil {
					s.env.Logger.Warn("mqtt source cannot subscribe; the connection will be retried", "topics", s.topics, "err", err)
				}
			}()
		},
		OnConnectError: func(err error) {
			if s.env.Metrics != nil {
				s.env.Metrics.Retries.WithLabelValues(s.env.Name).Inc()
			}
			s.env.Logger.Warn("mqtt source cannot connect; retrying", "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   s.clientID,
			EnableManualAcknowledgment: true,
			SendAcksInterval:           20 * time.Millisecond,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				select {
				case msgs <- message{pub: pr.Packet, client: pr.Client}:
				case <-runCtx.Done():
				}
				return true, nil
			}},
		},
	}
	cm, err := autopaho.NewConnection(runCtx, cfg)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.env.Name, err)
	}
	err = s.batches(runCtx, msgs)
	cancel()
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	_ = cm.Disconnect(dctx)
	<-cm.Done()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// batches ingests messages in batches and acknowledges each batch once it
// is durable.
func (s *Source) batches(ctx context.Context, msgs <-chan message) error {
	var batch []message
	var deadline *time.Timer
	for {
		var timeout <-chan time.Time
		if deadline != nil {
			timeout = deadline.C
		}
		select {
		case <-ctx.Done():
			return nil // not acknowledged: the broker sends them again
		case m := <-msgs:
			batch = append(batch, m)
			if deadline == nil {
				deadline = time.NewTimer(s.linger)
			}
			if len(batch) < s.maxBatch {
				continue
			}
		case <-timeout:
		}
		if deadline != nil {
			deadline.Stop()
			deadline = nil
		}
		if err := s.ingest(ctx, batch); err != nil {
			return err
		}
		for _, m := range batch { // in the order received, as MQTT requires
			if err := m.client.Ack(m.pub); err != nil && ctx.Err() == nil {
				s.env.Logger.Debug("mqtt source: an acknowledgement did not go out (the broker will send the message again)", "err", err)
			}
		}
		batch = batch[:0]
	}
}

// ingest writes one batch, holding it while the stream cannot take it.
func (s *Source) ingest(ctx context.Context, batch []message) error {
	req := gate.Request{Stream: s.env.Stream, Format: gate.Records, Source: "mqtt", Records: make([][]byte, len(batch)),
		Origin: func(i int) string { return "topic " + batch[i].pub.Topic }}
	for i, m := range batch {
		req.Records[i] = m.pub.Payload
		if s.topicColumn {
			req.Records[i] = withTopic(m.pub.Payload, m.pub.Topic)
		}
	}
	// Held unacknowledged while the stream cannot take it, the broker stops
	// at receive_maximum and keeps the rest.
	_, err := connect.Send(ctx, s.env, req)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// withTopic adds "_topic" to a JSON object payload (anything else is left
// as it is, for the decoder to reject).
func withTopic(payload []byte, topic string) []byte {
	p := bytes.TrimLeft(payload, " \t\r\n")
	if len(p) == 0 || p[0] != '{' {
		return payload
	}
	out := make([]byte, 0, len(p)+len(topic)+16)
	out = append(out, '{')
	out = append(out, `"_topic":`...)
	out = schema.AppendJSONString(out, topic)
	rest := bytes.TrimLeft(p[1:], " \t\r\n")
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

package dev.iteralite.serve;

import static dev.iteralite.serve.ServerTestSupport.await;
import static dev.iteralite.serve.ServerTestSupport.awaitEvents;
import static dev.iteralite.serve.ServerTestSupport.events;
import static dev.iteralite.serve.ServerTestSupport.get;
import static dev.iteralite.serve.ServerTestSupport.json;
import static dev.iteralite.serve.ServerTestSupport.metric;
import static dev.iteralite.serve.ServerTestSupport.post;
import static dev.iteralite.serve.ServerTestSupport.rawPost;
import static dev.iteralite.serve.ServerTestSupport.reader;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.generate.GenerationResult;
import dev.iteralite.generate.Generator;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tokenizer.ByteTokenizer;
import java.io.BufferedReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The inference server over real HTTP on loopback with a small random Itera-Lite and the byte
 * tokenizer: every endpoint, streaming against the non-streaming answer and the library, client
 * disconnects, backpressure, limits, authentication and every error path.
 */
class InferenceServerTest {
  private static IteraLiteModel model;
  private static Generator generator;
  private static InferenceServer server;

  @BeforeAll
  static void start() throws Exception {
    IteraLiteConfig c = IteraLiteConfig.builder(256, 32, 2).moeEvery(2).experts(2).topK(1).ffnHidden(48).build();
    model = new IteraLiteModel(Backends.cpu(), c, DType.F32, 21);
    generator = new Generator(model, ByteTokenizer.instance());
    server = InferenceServer.builder(ServerConfig.builder().port(0).maxConcurrent(2).queueCapacity(4).maxBodyBytes(4096)
            .maxPromptTokens(200).maxTokens(1_000_000).defaultMaxTokens(8).requestTimeout(Duration.ofSeconds(30)).build())
        .model("tiny", model, ByteTokenizer.instance())
        .start();
  }

  @AfterAll
  static void stop() {
    server.close();
    model.close();
  }

  private static InferenceServer extra(ServerConfig.Builder cfg) throws Exception {
    return InferenceServer.builder(cfg.port(0).maxTokens(1_000_000).build()).model("tiny", model, ByteTokenizer.instance()).start();
  }

  @Test
  void healthModelsAndMetrics() throws Exception {
    assertTrue(server.baseUri().toString().startsWith("http://127.0.0.1:"), "binds loopback by default");
    HttpResponse<String> h = get(server, "/health");
    assertEquals(200, h.statusCode());
    assertEquals("ok", json(h).get("status").asText());
    assertEquals("tiny", json(h).get("models").get(0).asText());
    JsonNode models = json(get(server, "/v1/models"));
    assertEquals("list", models.get("object").asText());
    assertEquals("tiny", models.get("data").get(0).get("id").asText());
    assertEquals("model", models.get("data").get(0).get("object").asText());
    assertEquals("itera-lite", json(get(server, "/v1/models/tiny")).get("architecture").asText());
    HttpResponse<String> missing = get(server, "/v1/models/nope");
    assertEquals(404, missing.statusCode());
    assertEquals("model", json(missing).get("error").get("param").asText());
    post(server, "/generate", "{\"prompt\":\"abc\",\"max_tokens\":3}");
    HttpResponse<String> m = get(server, "/metrics");
    assertEquals(200, m.statusCode());
    assertTrue(m.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
    String text = m.body();
    for (String s : List.of("# TYPE itera_requests_total counter", "# TYPE itera_request_duration_seconds histogram",
        "# TYPE itera_generated_tokens_total counter", "# TYPE itera_queue_depth gauge", "itera_active_generations ",
        "itera_time_to_first_token_seconds_bucket{le=\"+Inf\"}", "itera_queue_wait_seconds_count", "itera_native_memory_bytes ")) {
      assertTrue(text.contains(s), "metrics hold " + s + "\n" + text);
    }
    assertTrue(metric(text, "itera_generated_tokens_total{model=\"tiny\"}") >= 3);
    assertTrue(metric(text, "itera_requests_total{endpoint=\"/generate\",code=\"200\"}") >= 1);
    assertTrue(metric(text, "itera_request_duration_seconds_count{endpoint=\"/generate\"}") >= 1);
  }

  @Test
  void generateAnswersWhatTheLibraryGenerates() throws Exception {
    HttpResponse<String> r = post(server, "/generate",
        "{\"prompt\":\"Hello\",\"max_tokens\":12,\"temperature\":0.7,\"top_k\":20,\"top_p\":0.9,\"seed\":5}");
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
    JsonNode j = json(r);
    GenerationResult lib = generator.generate("Hello",
        GenerationConfig.builder().maxNewTokens(12).temperature(0.7f).topK(20).topP(0.9f).seed(5).build());
    assertEquals(lib.text(), j.get("text").asText());
    assertEquals(5, j.get("prompt_tokens").asInt());
    assertEquals(12, j.get("generated_tokens").asInt());
    assertEquals("max_tokens", j.get("stop_reason").asText());
    assertEquals("tiny", j.get("model").asText());
    // Greedy with a stop sequence taken from the greedy text.
    String full = json(post(server, "/generate", "{\"prompt\":\"Hi\",\"max_tokens\":40,\"temperature\":0}")).get("text").asText();
    String stop = full.substring(10, 13);
    JsonNode stopped = json(post(server, "/generate", "{\"prompt\":\"Hi\",\"max_tokens\":40,\"temperature\":0,\"stop\":["
        + ServerTestSupport.JSON.writeValueAsString(stop) + "]}"));
    assertEquals(full.substring(0, full.indexOf(stop)), stopped.get("text").asText());
    assertEquals("stop_sequence", stopped.get("stop_reason").asText());
    // The default max_tokens applies when none is given.
    assertEquals(8, json(post(server, "/generate", "{\"prompt\":\"Hi\"}")).get("generated_tokens").asInt());
  }

  @Test
  void completionsStreamTheSameTextAsTheirJsonAnswer() throws Exception {
    String params = "\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":30,\"temperature\":0.9,\"seed\":77";
    HttpResponse<String> r = post(server, "/v1/completions", "{" + params + "}");
    assertEquals(200, r.statusCode(), r.body());
    JsonNode j = json(r);
    assertEquals("text_completion", j.get("object").asText());
    assertTrue(j.get("id").asText().startsWith("cmpl-"));
    JsonNode choice = j.get("choices").get(0);
    assertEquals("length", choice.get("finish_reason").asText());
    assertEquals(0, choice.get("index").asInt());
    assertEquals(4, j.get("usage").get("prompt_tokens").asInt());
    assertEquals(30, j.get("usage").get("completion_tokens").asInt());
    assertEquals(34, j.get("usage").get("total_tokens").asInt());

    HttpResponse<String> s = post(server, "/v1/completions",
        "{" + params + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    assertEquals(200, s.statusCode());
    assertTrue(s.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
    List<JsonNode> ev = events(s.body());
    StringBuilder text = new StringBuilder();
    String finish = null;
    JsonNode usage = null;
    for (JsonNode e : ev) {
      assertEquals(j.get("model").asText(), e.get("model").asText());
      if (e.has("usage")) {
        usage = e.get("usage");
        continue;
      }
      text.append(e.get("choices").get(0).get("text").asText());
      if (!e.get("choices").get(0).get("finish_reason").isNull()) {
        finish = e.get("choices").get(0).get("finish_reason").asText();
      }
    }
    assertEquals(choice.get("text").asText(), text.toString());
    assertEquals("length", finish);
    assertEquals(30, usage.get("completion_tokens").asInt());
    // Prompt as a one-element array.
    assertEquals(choice.get("text").asText(),
        json(post(server, "/v1/completions", "{" + params.replace("\"Once\"", "[\"Once\"]") + "}")).get("choices").get(0).get("text").asText());
  }

  @Test
  void chatCompletionsUseThePlainTextTemplateAndStream() throws Exception {
    String body = "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}],"
        + "\"max_tokens\":20,\"temperature\":0.8,\"seed\":3";
    HttpResponse<String> r = post(server, "/v1/chat/completions", body + "}");
    assertEquals(200, r.statusCode(), r.body());
    JsonNode j = json(r);
    assertEquals("chat.completion", j.get("object").asText());
    JsonNode msg = j.get("choices").get(0).get("message");
    assertEquals("assistant", msg.get("role").asText());
    String expected = generator.generate("system: Be brief.\nuser: Hi\nassistant:",
        GenerationConfig.builder().maxNewTokens(20).temperature(0.8f).seed(3).build()).text();
    assertEquals(expected, msg.get("content").asText());
    assertEquals("length", j.get("choices").get(0).get("finish_reason").asText());

    List<JsonNode> ev = events(post(server, "/v1/chat/completions", body + ",\"stream\":true}").body());
    assertEquals("assistant", ev.get(0).get("choices").get(0).get("delta").get("role").asText());
    StringBuilder text = new StringBuilder();
    for (JsonNode e : ev) {
      assertEquals("chat.completion.chunk", e.get("object").asText());
      assertEquals(ev.get(0).get("id").asText(), e.get("id").asText());
      JsonNode d = e.get("choices").get(0).get("delta");
      if (d.has("content")) {
        text.append(d.get("content").asText());
      }
    }
    assertEquals(expected, text.toString());
    assertEquals("length", ev.get(ev.size() - 1).get("choices").get(0).get("finish_reason").asText());
    // max_completion_tokens is the chat name of max_tokens.
    assertEquals(4, json(post(server, "/v1/chat/completions",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":4}")).get("usage").get("completion_tokens").asInt());
  }

  @Test
  void everyBadRequestIsA4xxNamingTheField() throws Exception {
    long nativeBefore = NativeMemory.unreleasedBytes();
    String[][] cases = {
        // path, body, status, param (or "null")
        {"/generate", "{\"prompt\":\"a\"", "400", "null"},
        {"/generate", "", "400", "null"},
        {"/generate", "[1,2]", "400", "null"},
        {"/generate", "{\"prompt\":\"a\"} {}", "400", "null"},
        {"/generate", "{\"prompt\":\"a\",\"prompt\":\"b\"}", "400", "null"},
        {"/generate", "{}", "400", "prompt"},
        {"/generate", "{\"prompt\":5}", "400", "prompt"},
        {"/generate", "{\"prompt\":\"\"}", "400", "prompt"},
        {"/generate", "{\"prompt\":\"a\",\"bogus\":1}", "400", "bogus"},
        {"/generate", "{\"prompt\":\"a\",\"n\":1}", "400", "n"},
        {"/generate", "{\"prompt\":\"a\",\"max_tokens\":\"5\"}", "400", "max_tokens"},
        {"/generate", "{\"prompt\":\"a\",\"max_tokens\":5.5}", "400", "max_tokens"},
        {"/generate", "{\"prompt\":\"a\",\"max_tokens\":0}", "400", "max_tokens"},
        {"/generate", "{\"prompt\":\"a\",\"max_tokens\":1000001}", "400", "max_tokens"},
        {"/generate", "{\"prompt\":\"a\",\"max_tokens\":99999999999999999999999}", "400", "max_tokens"},
        {"/generate", "{\"prompt\":\"a\",\"temperature\":-0.1}", "400", "temperature"},
        {"/generate", "{\"prompt\":\"a\",\"temperature\":2.5}", "400", "temperature"},
        {"/generate", "{\"prompt\":\"a\",\"temperature\":\"hot\"}", "400", "temperature"},
        {"/generate", "{\"prompt\":\"a\",\"top_p\":0}", "400", "top_p"},
        {"/generate", "{\"prompt\":\"a\",\"top_p\":1.01}", "400", "top_p"},
        {"/generate", "{\"prompt\":\"a\",\"top_k\":-1}", "400", "top_k"},
        {"/generate", "{\"prompt\":\"a\",\"top_k\":true}", "400", "top_k"},
        {"/generate", "{\"prompt\":\"a\",\"seed\":1.5}", "400", "seed"},
        {"/generate", "{\"prompt\":\"a\",\"seed\":18446744073709551616}", "400", "seed"},
        {"/generate", "{\"prompt\":\"a\",\"stop\":\"\"}", "400", "stop"},
        {"/generate", "{\"prompt\":\"a\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "400", "stop"},
        {"/generate", "{\"prompt\":\"a\",\"stop\":[\"a\",3]}", "400", "stop[1]"},
        {"/generate", "{\"prompt\":\"a\",\"stop\":{}}", "400", "stop"},
        {"/generate", "{\"prompt\":\"a\",\"stream\":\"yes\"}", "400", "stream"},
        {"/generate", "{\"prompt\":\"a\",\"model\":\"nope\"}", "404", "model"},
        {"/generate", "{\"prompt\":\"a\",\"model\":7}", "400", "model"},
        {"/generate", "{\"prompt\":\"" + "x".repeat(201) + "\"}", "400", "prompt"},
        {"/v1/completions", "{\"prompt\":[\"a\",\"b\"]}", "400", "prompt"},
        {"/v1/completions", "{\"prompt\":[1,2,3]}", "400", "prompt"},
        {"/v1/completions", "{\"prompt\":\"a\",\"n\":2}", "400", "n"},
        {"/v1/completions", "{\"prompt\":\"a\",\"presence_penalty\":0.5}", "400", "presence_penalty"},
        {"/v1/completions", "{\"prompt\":\"a\",\"logprobs\":2}", "400", "logprobs"},
        {"/v1/completions", "{\"prompt\":\"a\",\"stream_options\":{\"include_usage\":true}}", "400", "stream_options"},
        {"/v1/completions", "{\"prompt\":\"a\",\"stream\":true,\"stream_options\":{\"x\":1}}", "400", "stream_options.x"},
        {"/v1/completions", "{\"prompt\":\"a\",\"stream\":true,\"stream_options\":{\"include_usage\":1}}", "400",
            "stream_options.include_usage"},
        {"/v1/completions", "{\"messages\":[]}", "400", "messages"},
        {"/v1/chat/completions", "{\"prompt\":\"a\"}", "400", "prompt"},
        {"/v1/chat/completions", "{}", "400", "messages"},
        {"/v1/chat/completions", "{\"messages\":[]}", "400", "messages"},
        {"/v1/chat/completions", "{\"messages\":{}}", "400", "messages"},
        {"/v1/chat/completions", "{\"messages\":[\"hi\"]}", "400", "messages[0]"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "400", "messages[0].role"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\"}]}", "400", "messages[0].content"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"tool_calls\":[]}]}", "400",
            "messages[0].tool_calls"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "400",
            "messages[0].content[0]"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":3,\"max_completion_tokens\":4}",
            "400", "max_completion_tokens"},
    };
    for (String[] c : cases) {
      HttpResponse<String> r = post(server, c[0], c[1]);
      String what = c[0] + " " + c[1] + " -> " + r.statusCode() + " " + r.body();
      assertEquals(Integer.parseInt(c[2]), r.statusCode(), what);
      assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), what);
      JsonNode err = json(r).get("error");
      assertFalse(err.get("message").asText().isEmpty(), what);
      assertFalse(err.get("type").asText().isEmpty(), what);
      if (c[3].equals("null")) {
        assertTrue(err.get("param").isNull(), what);
      } else {
        assertEquals(c[3], err.get("param").asText(), what);
      }
    }
    assertEquals(413, post(server, "/generate", "{\"prompt\":\"" + "x".repeat(5000) + "\"}").statusCode());
    HttpResponse<String> prompt = post(server, "/generate", "{\"prompt\":\"" + "x".repeat(300) + "\"}");
    assertEquals("context_length_exceeded", json(prompt).get("error").get("code").asText());
    // A huge declared body is refused before it is read.
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{\"prompt\":")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String status = reader(s).readLine();
      assertTrue(status.startsWith("HTTP/1.1 413"), status);
    }
    // Wrong methods and paths.
    HttpResponse<String> m = get(server, "/generate");
    assertEquals(405, m.statusCode());
    assertEquals("POST", m.headers().firstValue("Allow").orElse(""));
    assertEquals(405, post(server, "/health", "{}").statusCode());
    assertEquals(404, get(server, "/nope").statusCode());
    assertEquals("not_found", json(get(server, "/nope")).get("error").get("code").asText());
    // Nothing above disturbed the server or left native memory behind.
    assertEquals(200, get(server, "/health").statusCode());
    assertEquals(200, post(server, "/generate", "{\"prompt\":\"ok\",\"max_tokens\":2}").statusCode());
    assertEquals(nativeBefore, NativeMemory.unreleasedBytes());
  }

  @Test
  void aStreamingClientThatDisconnectsCancelsItsGenerationAndFreesItsState() throws Exception {
    long before = NativeMemory.unreleasedBytes();
    double disconnectedBefore = metric(get(server, "/metrics").body(), "itera_generations_total{model=\"tiny\",reason=\"disconnected\"}");
    long t0 = System.nanoTime();
    try (Socket s = rawPost(server, "/v1/completions", "{\"prompt\":\"go\",\"max_tokens\":1000000,\"stream\":true}")) {
      BufferedReader in = reader(s);
      assertTrue(awaitEvents(in, 5).startsWith("HTTP/1.1 200"));
      assertEquals(1, server.activeGenerations());
    }
    await("the generation ends", () -> server.activeGenerations() == 0, Duration.ofSeconds(10));
    assertTrue((System.nanoTime() - t0) * 1e-9 < 10, "cancelled long before a million tokens");
    await("native memory returns", () -> NativeMemory.unreleasedBytes() == before, Duration.ofSeconds(5));
    String text = get(server, "/metrics").body();
    assertEquals(disconnectedBefore + 1, metric(text, "itera_generations_total{model=\"tiny\",reason=\"disconnected\"}"), text);
  }

  @Test
  void aFullQueueAnswers429AndAnExpiredWait503WithRetryAfter() throws Exception {
    try (InferenceServer s = extra(ServerConfig.builder().maxConcurrent(1).queueCapacity(1).retryAfterSeconds(2)
        .requestTimeout(Duration.ofSeconds(30)))) {
      try (Socket a = rawPost(s, "/generate", "{\"prompt\":\"a\",\"max_tokens\":1000000,\"stream\":true}")) {
        awaitEvents(reader(a), 2);
        CompletableFuture<HttpResponse<String>> queued = CompletableFuture.supplyAsync(() -> {
          try {
            return post(s, "/generate", "{\"prompt\":\"b\",\"max_tokens\":3}");
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
        await("a request waits", () -> s.queueDepth() == 1, Duration.ofSeconds(10));
        HttpResponse<String> full = post(s, "/generate", "{\"prompt\":\"c\",\"max_tokens\":3}");
        assertEquals(429, full.statusCode());
        assertEquals("2", full.headers().firstValue("Retry-After").orElse(""));
        assertEquals("queue_full", json(full).get("error").get("code").asText());
        assertEquals(1.0, metric(get(s, "/metrics").body(), "itera_queue_depth"));
        a.close();
        HttpResponse<String> b = queued.get();
        assertEquals(200, b.statusCode(), b.body());
        assertEquals(3, json(b).get("generated_tokens").asInt());
      }
    }
    try (InferenceServer s = extra(ServerConfig.builder().maxConcurrent(1).queueCapacity(4).queueTimeout(Duration.ofSeconds(1)))) {
      try (Socket a = rawPost(s, "/generate", "{\"prompt\":\"a\",\"max_tokens\":1000000,\"stream\":true}")) {
        awaitEvents(reader(a), 2);
        long t0 = System.nanoTime();
        HttpResponse<String> late = post(s, "/generate", "{\"prompt\":\"b\",\"max_tokens\":3}");
        assertEquals(503, late.statusCode(), late.body());
        assertEquals("1", late.headers().firstValue("Retry-After").orElse(""));
        assertTrue((System.nanoTime() - t0) * 1e-9 < 5);
      }
    }
  }

  @Test
  void theRequestTimeLimitShortensALongGeneration() throws Exception {
    try (InferenceServer s = extra(ServerConfig.builder().requestTimeout(Duration.ofMillis(700)))) {
      long t0 = System.nanoTime();
      HttpResponse<String> r = post(s, "/generate", "{\"prompt\":\"a\",\"max_tokens\":1000000}");
      double took = (System.nanoTime() - t0) * 1e-9;
      assertEquals(200, r.statusCode(), r.body());
      JsonNode j = json(r);
      assertEquals("time_limit", j.get("stop_reason").asText());
      assertTrue(j.get("generated_tokens").asInt() > 0 && j.get("generated_tokens").asInt() < 1_000_000);
      assertTrue(took < 5, "took " + took + " s");
      JsonNode oa = json(post(s, "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1000000}"));
      assertEquals("length", oa.get("choices").get(0).get("finish_reason").asText());
      assertTrue(metric(get(s, "/metrics").body(), "itera_generations_total{model=\"tiny\",reason=\"time_limit\"}") >= 2);
    }
  }

  @Test
  void aBearerTokenGuardsEverythingButHealth() throws Exception {
    try (InferenceServer s = extra(ServerConfig.builder().apiKey("s3cret-key"))) {
      assertEquals(200, get(s, "/health").statusCode());
      HttpResponse<String> none = get(s, "/v1/models");
      assertEquals(401, none.statusCode());
      assertEquals("Bearer", none.headers().firstValue("WWW-Authenticate").orElse(""));
      assertEquals("authentication_error", json(none).get("error").get("type").asText());
      assertEquals(401, get(s, "/metrics", "Authorization", "Bearer wrong").statusCode());
      assertEquals(401, post(s, "/generate", "{\"prompt\":\"a\"}", "Authorization", "Basic czNjcmV0LWtleQ==").statusCode());
      assertEquals(401, get(s, "/nope").statusCode(), "no path is revealed without the key");
      assertEquals(200, get(s, "/v1/models", "Authorization", "Bearer s3cret-key").statusCode());
      HttpResponse<String> ok = post(s, "/generate", "{\"prompt\":\"a\",\"max_tokens\":2}", "Authorization", "Bearer s3cret-key");
      assertEquals(200, ok.statusCode());
    }
  }

  @Test
  void aTransformerIsServedNextToItsSequenceLimit() throws Exception {
    TransformerConfig tc = new TransformerConfig(32, 64, 2, 4, 2, 256, 48, true);
    try (TransformerModel tf = new TransformerModel(Backends.cpu(), tc, DType.F32, 3);
        InferenceServer s = InferenceServer.builder(ServerConfig.builder().port(0).maxTokens(1000).build())
            .model("tiny", model, ByteTokenizer.instance()).model("tf", tf, ByteTokenizer.instance()).start()) {
      JsonNode m = json(get(s, "/v1/models/tf"));
      assertEquals("transformer", m.get("architecture").asText());
      assertEquals(48, m.get("max_sequence_length").asInt());
      String expected = new Generator(tf, ByteTokenizer.instance()).generate("abcd", GenerationConfig.greedy(20)).text();
      JsonNode r = json(post(s, "/generate", "{\"model\":\"tf\",\"prompt\":\"abcd\",\"max_tokens\":20,\"temperature\":0}"));
      assertEquals(expected, r.get("text").asText());
      JsonNode full = json(post(s, "/generate", "{\"model\":\"tf\",\"prompt\":\"abcd\",\"max_tokens\":1000}"));
      assertEquals("sequence_length", full.get("stop_reason").asText());
      assertEquals(48 - 4 + 1, full.get("generated_tokens").asInt(), "one token per position after the prompt");
      HttpResponse<String> tooLong = post(s, "/generate", "{\"model\":\"tf\",\"prompt\":\"" + "y".repeat(49) + "\"}");
      assertEquals(400, tooLong.statusCode());
      assertEquals("prompt", json(tooLong).get("error").get("param").asText());
      // /generate streams too: text events, then a summary event.
      List<JsonNode> ev = events(post(s, "/generate", "{\"model\":\"tf\",\"prompt\":\"abcd\",\"max_tokens\":20,\"temperature\":0,\"stream\":true}").body());
      StringBuilder text = new StringBuilder();
      ev.forEach(e -> text.append(e.get("text").asText()));
      assertEquals(expected, text.toString());
      JsonNode last = ev.get(ev.size() - 1);
      assertTrue(last.get("done").asBoolean());
      assertEquals(20, last.get("generated_tokens").asInt());
      assertEquals("max_tokens", last.get("stop_reason").asText());
    }
  }

  /** A model whose decoding fails after a few tokens; counts open sessions. */
  private static final class FailingModel implements CausalLm {
    final AtomicInteger open = new AtomicInteger();

    @Override
    public String architecture() {
      return "failing";
    }

    @Override
    public Record config() {
      return null;
    }

    @Override
    public Backend backend() {
      return Backends.cpu();
    }

    @Override
    public ParameterSet parameters() {
      throw new UnsupportedOperationException("FailingModel is a decode-only test double: the server never reads parameters");
    }

    @Override
    public int vocabSize() {
      return 256;
    }

    @Override
    public int maxSequenceLength() {
      return Integer.MAX_VALUE;
    }

    @Override
    public double forwardBackward(int[] tokens, int[] targets, int batch, Arena arena) {
      throw new UnsupportedOperationException("FailingModel is a decode-only test double: the server never trains");
    }

    @Override
    public double lastAuxLoss() {
      return 0;
    }

    @Override
    public double loss(int[] tokens, int[] targets, int batch) {
      throw new UnsupportedOperationException("FailingModel is a decode-only test double: the server never scores");
    }

    @Override
    public DecodeSession newSession() {
      open.incrementAndGet();
      return new DecodeSession() {
        int position;
        final float[] logits = new float[256];

        @Override
        public float[] prefill(int[] prompt) {
          position = prompt.length;
          logits['a'] = 1;
          return logits;
        }

        @Override
        public float[] step(int token) {
          if (++position > 6) {
            throw new IllegalStateException("simulated failure inside the model");
          }
          return logits;
        }

        @Override
        public int position() {
          return position;
        }

        @Override
        public int vocabSize() {
          return 256;
        }

        @Override
        public void close() {
          open.decrementAndGet();
        }
      };
    }

    @Override
    public void close() {}
  }

  @Test
  void aFailingModelGives500sAndTheServerCarriesOn() throws Exception {
    FailingModel bad = new FailingModel();
    try (InferenceServer s = InferenceServer.builder(ServerConfig.builder().port(0).build())
        .model("bad", bad, ByteTokenizer.instance()).model("tiny", model, ByteTokenizer.instance()).start()) {
      HttpResponse<String> r = post(s, "/generate", "{\"prompt\":\"ab\",\"max_tokens\":3,\"temperature\":0}");
      assertEquals(200, r.statusCode(), "fine while the model works");
      assertEquals("aaa", json(r).get("text").asText());
      HttpResponse<String> e = post(s, "/generate", "{\"prompt\":\"ab\",\"max_tokens\":50}");
      assertEquals(500, e.statusCode(), e.body());
      assertEquals("server_error", json(e).get("error").get("type").asText());
      // Streaming: the failure becomes the last event, after the text so far.
      HttpResponse<String> st = post(s, "/v1/completions", "{\"prompt\":\"ab\",\"max_tokens\":50,\"stream\":true,\"temperature\":0}");
      assertEquals(200, st.statusCode());
      String[] lines = st.body().strip().split("\n+");
      assertTrue(lines[0].contains("\"text\":\"a\""), st.body());
      assertTrue(lines[lines.length - 1].startsWith("data: {\"error\":"), st.body());
      assertFalse(st.body().contains("[DONE]"));
      assertEquals(0, bad.open.get(), "every decoding session was closed");
      assertEquals(200, get(s, "/health").statusCode());
      assertEquals(200, post(s, "/generate", "{\"model\":\"tiny\",\"prompt\":\"ab\",\"max_tokens\":3}").statusCode());
      assertEquals(2.0, metric(get(s, "/metrics").body(), "itera_generations_total{model=\"bad\",reason=\"error\"}"));
    }
  }

  @Test
  void closingTheServerEndsRunningStreams() throws Exception {
    InferenceServer s = extra(ServerConfig.builder());
    try (Socket a = rawPost(s, "/v1/chat/completions",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1000000,\"stream\":true}")) {
      BufferedReader in = reader(a);
      awaitEvents(in, 3);
      long t0 = System.nanoTime();
      s.close();
      assertTrue((System.nanoTime() - t0) * 1e-9 < 5, "close() returns promptly");
      assertEquals(0, s.activeGenerations());
      String line;
      String last = null;
      while ((line = in.readLine()) != null) {
        if (line.startsWith("data: ")) {
          last = line;
        }
      }
      assertEquals("data: [DONE]", last, "the stream was closed properly");
    }
  }
}

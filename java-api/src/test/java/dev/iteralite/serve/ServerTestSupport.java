package dev.iteralite.serve;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** HTTP helpers shared by the server tests: requests over real loopback connections. */
final class ServerTestSupport {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();

  private ServerTestSupport() {}

  static HttpResponse<String> get(InferenceServer s, String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(s.baseUri().resolve(path)).timeout(Duration.ofSeconds(60)).GET();
    if (headers.length > 0) {
      b.headers(headers);
    }
    return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> post(InferenceServer s, String path, String body, String... headers) throws Exception {
    return post(s.baseUri(), path, body, headers);
  }

  static HttpResponse<String> post(URI base, String path, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    if (headers.length > 0) {
      b.headers(headers);
    }
    return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode json(HttpResponse<String> r) throws IOException {
    return JSON.readTree(r.body());
  }

  /** The JSON payloads of a server-sent-event body, {@code [DONE]} excluded (asserted to be last). */
  static List<JsonNode> events(String body) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    String[] lines = body.split("\n");
    boolean done = false;
    for (String line : lines) {
      if (line.isEmpty()) {
        continue;
      }
      assertTrue(line.startsWith("data: "), "SSE line: " + line);
      assertTrue(!done, "nothing follows [DONE]");
      String data = line.substring(6);
      if (data.equals("[DONE]")) {
        done = true;
      } else {
        out.add(JSON.readTree(data));
      }
    }
    assertTrue(done, "the stream ends with data: [DONE]");
    return out;
  }

  /** A raw HTTP/1.1 POST on its own socket (the caller closes it, e.g. to disconnect mid-stream). */
  static Socket rawPost(InferenceServer s, String path, String json) throws IOException {
    Socket sock = new Socket("127.0.0.1", s.port());
    sock.setSoTimeout(30_000);
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    OutputStream out = sock.getOutputStream();
    out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
        + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(body);
    out.flush();
    return sock;
  }

  static BufferedReader reader(Socket s) throws IOException {
    return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
  }

  /** Reads lines until {@code n} SSE data lines have arrived; returns the status line. */
  static String awaitEvents(BufferedReader in, int n) throws IOException {
    String status = in.readLine();
    int seen = 0;
    String line;
    while (seen < n && (line = in.readLine()) != null) {
      if (line.startsWith("data: ")) {
        seen++;
      }
    }
    if (seen < n) {
      fail("stream ended after " + seen + " events; status " + status);
    }
    return status;
  }

  static void await(String what, BooleanSupplier cond, Duration limit) throws InterruptedException {
    long end = System.nanoTime() + limit.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("timed out waiting for: " + what);
      }
      Thread.sleep(5);
    }
  }

  /** The value of one series of the Prometheus text, or 0 if absent. */
  static double metric(String text, String series) {
    for (String line : text.split("\n")) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(series.length() + 1).trim());
      }
    }
    return 0;
  }
}

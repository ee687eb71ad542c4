package dev.iteralite.serve;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Strict parsing of the generation endpoints' JSON bodies: every field is type- and range-checked,
 * unknown fields are refused, and each failure becomes a 400 whose {@code param} names the field.
 */
final class Requests {
  /** Which endpoint a body was sent to (they differ in fields and defaults). */
  enum Kind {
    GENERATE, COMPLETION, CHAT
  }

  /**
   * A validated generation request.
   *
   * @param model the requested model name, or null for the default
   * @param prompt the prompt text (chat messages already rendered through the template)
   * @param seed the sampling seed, or null for a random one
   */
  record Parsed(Kind kind, String model, String prompt, int maxTokens, float temperature, int topK, float topP,
      List<String> stop, Long seed, boolean stream, boolean includeUsage) {}

  static final ObjectMapper JSON = JsonMapper.builder()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  /** Most stop sequences per request (OpenAI's limit). */
  static final int MAX_STOP = 4;
  /** Longest stop sequence in characters. */
  static final int MAX_STOP_CHARS = 256;
  /** Most chat messages per request. */
  static final int MAX_MESSAGES = 1024;

  private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_k", "top_p", "stop", "seed", "stream");
  private static final Set<String> OPENAI = Set.of("stream_options", "n", "user", "presence_penalty", "frequency_penalty");
  private static final Set<String> CHAT_ROLES = Set.of("system", "developer", "user", "assistant");

  private Requests() {}

  /**
   * Parses and validates {@code body}.
   *
   * @throws ApiException 400 naming the first offending field
   */
  static Parsed parse(Kind kind, byte[] body, ServerConfig limits) {
    JsonNode root;
    try {
      root = JSON.readTree(body);
    } catch (JsonProcessingException e) {
      throw new ApiException(400, "invalid_request_error", "invalid_json", null,
          "the request body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new ApiException(400, "invalid_request_error", "invalid_json", null, "the request body could not be read as JSON");
    }
    if (root == null || root.isMissingNode()) {
      throw new ApiException(400, "invalid_request_error", "invalid_json", null, "the request body is empty; send a JSON object");
    }
    if (!root.isObject()) {
      throw new ApiException(400, "invalid_request_error", "invalid_json", null,
          "the request body must be a JSON object, got " + typeName(root));
    }
    for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      boolean known = COMMON.contains(f)
          || (kind != Kind.GENERATE && OPENAI.contains(f))
          || (kind == Kind.CHAT ? f.equals("messages") || f.equals("max_completion_tokens") : f.equals("prompt"));
      if (!known) {
        throw new ApiException(400, "invalid_request_error", "unknown_field", f, "unknown or unsupported field '" + f + "'");
      }
    }
    String model = optString(root, "model");
    String prompt = kind == Kind.CHAT ? chatPrompt(root) : prompt(root, kind);
    Integer maxTokens = optInt(root, "max_tokens", 1, limits.maxTokens());
    if (kind == Kind.CHAT) {
      Integer mct = optInt(root, "max_completion_tokens", 1, limits.maxTokens());
      if (mct != null) {
        if (maxTokens != null && !maxTokens.equals(mct)) {
          throw ApiException.invalid("max_completion_tokens", "give max_tokens or max_completion_tokens, not two different values");
        }
        maxTokens = mct;
      }
    }
    Double temperature = optNumber(root, "temperature", 0, 2);
    Integer topK = optInt(root, "top_k", 0, Integer.MAX_VALUE);
    Double topP = optNumber(root, "top_p", 0, 1);
    if (topP != null && topP == 0) {
      throw ApiException.invalid("top_p", "'top_p' must be in (0, 1], got 0");
    }
    Long seed = optLong(root, "seed");
    List<String> stop = stop(root);
    Boolean stream = optBool(root, "stream");
    boolean includeUsage = false;
    if (kind != Kind.GENERATE) {
      Integer n = optInt(root, "n", 1, Integer.MAX_VALUE);
      if (n != null && n != 1) {
        throw ApiException.invalid("n", "only n = 1 is supported, got " + n);
      }
      for (String penalty : List.of("presence_penalty", "frequency_penalty")) {
        Double p = optNumber(root, penalty, -2, 2);
        if (p != null && p != 0) {
          throw ApiException.invalid(penalty, "'" + penalty + "' is not supported; leave it out or send 0");
        }
      }
      optString(root, "user");
      JsonNode so = root.get("stream_options");
      if (so != null && !so.isNull()) {
        if (!so.isObject()) {
          throw ApiException.invalid("stream_options", "'stream_options' must be an object, got " + typeName(so));
        }
        for (Iterator<String> it = so.fieldNames(); it.hasNext(); ) {
          String f = it.next();
          if (!f.equals("include_usage")) {
            throw new ApiException(400, "invalid_request_error", "unknown_field", "stream_options." + f,
                "unknown or unsupported field 'stream_options." + f + "'");
          }
        }
        Boolean iu = optBool(so, "include_usage", "stream_options.include_usage");
        includeUsage = iu != null && iu;
        if (stream == null || !stream) {
          throw ApiException.invalid("stream_options", "'stream_options' is only allowed with \"stream\": true");
        }
      }
    }
    return new Parsed(kind, model, prompt, maxTokens == null ? limits.defaultMaxTokens() : maxTokens,
        temperature == null ? 1f : temperature.floatValue(), topK == null ? 0 : topK, topP == null ? 1f : topP.floatValue(),
        stop, seed, stream != null && stream, includeUsage);
  }

  private static String prompt(JsonNode root, Kind kind) {
    JsonNode p = root.get("prompt");
    if (p == null || p.isNull()) {
      throw ApiException.invalid("prompt", "'prompt' is required (a string)");
    }
    if (p.isTextual()) {
      return p.textValue();
    }
    if (kind == Kind.COMPLETION && p.isArray()) {
      if (p.size() == 1 && p.get(0).isTextual()) {
        return p.get(0).textValue();
      }
      throw ApiException.invalid("prompt", "'prompt' must be one string (or an array holding exactly one string); "
          + "batches and token arrays are not supported");
    }
    throw ApiException.invalid("prompt", "'prompt' must be a string, got " + typeName(p));
  }

  /**
   * Renders the messages through the plain-text chat template: one {@code role: content} line per
   * message, then {@code assistant:} for the model to continue.
   */
  private static String chatPrompt(JsonNode root) {
    JsonNode msgs = root.get("messages");
    if (msgs == null || msgs.isNull()) {
      throw ApiException.invalid("messages", "'messages' is required (an array of {role, content} objects)");
    }
    if (!msgs.isArray()) {
      throw ApiException.invalid("messages", "'messages' must be an array, got " + typeName(msgs));
    }
    if (msgs.isEmpty() || msgs.size() > MAX_MESSAGES) {
      throw ApiException.invalid("messages", "'messages' must hold 1 to " + MAX_MESSAGES + " messages, got " + msgs.size());
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < msgs.size(); i++) {
      String at = "messages[" + i + "]";
      JsonNode m = msgs.get(i);
      if (!m.isObject()) {
        throw ApiException.invalid(at, "'" + at + "' must be an object, got " + typeName(m));
      }
      for (Iterator<String> it = m.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        if (!f.equals("role") && !f.equals("content") && !f.equals("name")) {
          throw new ApiException(400, "invalid_request_error", "unknown_field", at + "." + f,
              "unknown or unsupported field '" + at + "." + f + "'");
        }
      }
      String role = optString(m, "role", at + ".role");
      if (role == null || !CHAT_ROLES.contains(role)) {
        throw ApiException.invalid(at + ".role", "'" + at + ".role' must be one of " + new java.util.TreeSet<>(CHAT_ROLES)
            + ", got " + (role == null ? "nothing" : "'" + role + "'"));
      }
      optString(m, "name", at + ".name");
      JsonNode c = m.get("content");
      String content;
      if (c != null && c.isTextual()) {
        content = c.textValue();
      } else if (c != null && c.isArray()) {
        StringBuilder parts = new StringBuilder();
        for (int j = 0; j < c.size(); j++) {
          JsonNode part = c.get(j);
          String pat = at + ".content[" + j + "]";
          if (!part.isObject() || !"text".equals(part.path("type").asText(null)) || !part.path("text").isTextual()
              || part.size() != 2) {
            throw ApiException.invalid(pat, "'" + pat + "' must be {\"type\": \"text\", \"text\": \"...\"}; only text parts are supported");
          }
          parts.append(part.get("text").textValue());
        }
        content = parts.toString();
      } else {
        throw ApiException.invalid(at + ".content", "'" + at + ".content' must be a string or an array of text parts, got "
            + (c == null ? "nothing" : typeName(c)));
      }
      sb.append(role).append(": ").append(content).append('\n');
    }
    return sb.append("assistant:").toString();
  }

  private static List<String> stop(JsonNode root) {
    JsonNode s = root.get("stop");
    List<String> out = new ArrayList<>();
    if (s == null || s.isNull()) {
      return out;
    }
    if (s.isTextual()) {
      out.add(checkStop(s.textValue(), "stop"));
    } else if (s.isArray()) {
      if (s.size() > MAX_STOP) {
        throw ApiException.invalid("stop", "'stop' may hold at most " + MAX_STOP + " sequences, got " + s.size());
      }
      for (int i = 0; i < s.size(); i++) {
        if (!s.get(i).isTextual()) {
          throw ApiException.invalid("stop[" + i + "]", "'stop[" + i + "]' must be a string, got " + typeName(s.get(i)));
        }
        out.add(checkStop(s.get(i).textValue(), "stop[" + i + "]"));
      }
    } else {
      throw ApiException.invalid("stop", "'stop' must be a string or an array of strings, got " + typeName(s));
    }
    return out;
  }

  private static String checkStop(String s, String field) {
    if (s.isEmpty() || s.length() > MAX_STOP_CHARS) {
      throw ApiException.invalid(field, "'" + field + "' must be 1 to " + MAX_STOP_CHARS + " characters long, got " + s.length());
    }
    return s;
  }

  private static String optString(JsonNode o, String field) {
    return optString(o, field, field);
  }

  private static String optString(JsonNode o, String field, String name) {
    JsonNode v = o.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw ApiException.invalid(name, "'" + name + "' must be a string, got " + typeName(v));
    }
    return v.textValue();
  }

  private static Boolean optBool(JsonNode o, String field) {
    return optBool(o, field, field);
  }

  private static Boolean optBool(JsonNode o, String field, String name) {
    JsonNode v = o.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isBoolean()) {
      throw ApiException.invalid(name, "'" + name + "' must be true or false, got " + typeName(v));
    }
    return v.booleanValue();
  }

  private static Integer optInt(JsonNode o, String field, int min, int max) {
    JsonNode v = o.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isIntegralNumber()) {
      throw ApiException.invalid(field, "'" + field + "' must be an integer, got " + typeName(v));
    }
    if (!v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
      throw ApiException.invalid(field, "'" + field + "' must be in [" + min + ", " + max + "], got " + v.asText());
    }
    return v.intValue();
  }

  private static Long optLong(JsonNode o, String field) {
    JsonNode v = o.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isIntegralNumber()) {
      throw ApiException.invalid(field, "'" + field + "' must be an integer, got " + typeName(v));
    }
    if (!v.canConvertToLong()) {
      throw ApiException.invalid(field, "'" + field + "' must fit in 64 bits, got " + v.asText());
    }
    return v.longValue();
  }

  private static Double optNumber(JsonNode o, String field, double min, double max) {
    JsonNode v = o.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isNumber()) {
      throw ApiException.invalid(field, "'" + field + "' must be a number, got " + typeName(v));
    }
    double d = v.doubleValue();
    if (!(d >= min && d <= max)) {
      throw ApiException.invalid(field, "'" + field + "' must be in [" + min + ", " + max + "], got " + v.asText());
    }
    return d;
  }

  static String typeName(JsonNode v) {
    return switch (v.getNodeType()) {
      case ARRAY -> "an array";
      case BOOLEAN -> "a boolean";
      case NULL -> "null";
      case NUMBER -> v.isIntegralNumber() ? "an integer" : "a number";
      case OBJECT -> "an object";
      case STRING -> "a string";
      default -> v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    };
  }
}

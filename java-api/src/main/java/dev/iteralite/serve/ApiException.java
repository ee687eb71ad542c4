package dev.iteralite.serve;

/**
 * A request the server answers with an error: HTTP status, message, the offending request field
 * ({@code param}, may be null) and an OpenAI-style error type and code.
 */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final int status;
  final String param;
  final String type;
  final String code;

  ApiException(int status, String type, String code, String param, String message) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
  }

  /** 400 for a bad field value or type. */
  static ApiException invalid(String param, String message) {
    return new ApiException(400, "invalid_request_error", "invalid_value", param, message);
  }
}

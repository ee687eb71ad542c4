package dev.iteralite.backend;

import java.util.Locale;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point for obtaining a {@link Backend}: the native CPU backend, the reference backend, or
 * the best available one chosen at run time.
 *
 * <p>{@link #select()} honours the system property {@value #PROPERTY} ({@code cpu} or {@code
 * reference}); without it, it picks {@code cpu} when the native library loads and falls back to
 * {@code reference} otherwise, logging one INFO line that names the choice and the reason.
 */
public final class Backends {
  /** System property that forces a backend: {@code cpu} or {@code reference}. */
  public static final String PROPERTY = "itera.backend";

  private static final Logger LOG = LoggerFactory.getLogger(Backends.class);
  private static final ReferenceBackend REFERENCE = new ReferenceBackend();

  private static final Object CPU_LOCK = new Object();
  private static volatile CpuBackend cpu;
  private static volatile Throwable cpuFailure;

  private Backends() {}

  /**
   * The native CPU backend (one shared instance).
   *
   * @throws IllegalStateException if the native library cannot be loaded on this machine, with the
   *     loader's error as the cause
   */
  public static CpuBackend cpu() {
    CpuBackend b = cpu;
    if (b != null) {
      return b;
    }
    synchronized (CPU_LOCK) {
      if (cpu != null) {
        return cpu;
      }
      if (cpuFailure == null) {
        int threads = threadsProperty();
        try {
          CpuBackend created = new CpuBackend();
          if (threads > 0) {
            created.setThreads(threads);
          }
          cpu = created;
          return cpu;
        } catch (LinkageError | RuntimeException e) {
          cpuFailure = e;
        }
      }
      throw new IllegalStateException(
          "the native cpu backend is unavailable on this machine ("
              + System.getProperty("os.name")
              + "/"
              + System.getProperty("os.arch")
              + "): "
              + reason(cpuFailure)
              + "; check that itera-native's "
              + "linux-x86_64 jar is on the class path, or use Backends.reference()",
          cpuFailure);
    }
  }

  /**
   * System property with the kernels' worker-thread count for the CPU backend ({@code >= 1});
   * unset: all available cores.
   */
  public static final String THREADS_PROPERTY = "itera.threads";

  private static int threadsProperty() {
    return parseThreads(System.getProperty(THREADS_PROPERTY));
  }

  /** {@value #THREADS_PROPERTY}'s value as a thread count, 0 when unset. */
  static int parseThreads(String value) {
    if (value == null || value.isBlank()) {
      return 0;
    }
    try {
      int n = Integer.parseInt(value.trim());
      if (n >= 1) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("system property " + THREADS_PROPERTY + " must be a thread count >= 1, got '"
        + value + "' (leave it unset to use every core)");
  }

  /** The pure-Java double-precision reference backend (one shared instance). */
  public static ReferenceBackend reference() {
    return REFERENCE;
  }

  /**
   * The backend named by {@value #PROPERTY}, or the native CPU backend when it loads, else the
   * reference backend; logs exactly one INFO line naming the choice (with CPU features, ISA,
   * threads and OpenBLAS core for {@code cpu}) and why any fallback happened.
   *
   * @throws IllegalArgumentException if the property names an unknown backend, or {@value
   *     #THREADS_PROPERTY} is not a thread count
   * @throws IllegalStateException if the property asks for {@code cpu} and it cannot load
   */
  public static Backend select() {
    parseThreads(System.getProperty(THREADS_PROPERTY)); // a bad value is an error, not a reason to fall back
    Selection s = choose(System.getProperty(PROPERTY), Backends::cpu);
    LOG.info(s.logLine());
    return s.backend();
  }

  /** A chosen backend and the one log line describing the choice. */
  record Selection(Backend backend, String logLine) {}

  /** The selection logic, with the CPU loader injectable for tests. Logs nothing. */
  static Selection choose(String requested, Supplier<? extends Backend> cpuLoader) {
    String want = requested == null ? "" : requested.trim().toLowerCase(Locale.ROOT);
    switch (want) {
      case "cpu": {
        Backend b = cpuLoader.get(); // throws if unavailable: an explicit request never falls back
        return new Selection(b, "Itera-Lite backend: " + b.describe() + " (requested by -D" + PROPERTY + "=cpu)");
      }
      case "reference":
        return new Selection(
            REFERENCE, "Itera-Lite backend: " + REFERENCE.describe() + " (requested by -D" + PROPERTY + "=reference)");
      case "":
        break;
      default:
        throw new IllegalArgumentException(
            "unknown backend '" + requested + "' in system property " + PROPERTY + "; valid values are 'cpu' and"
                + " 'reference' (or leave it unset to choose automatically)");
    }
    try {
      Backend b = cpuLoader.get();
      return new Selection(b, "Itera-Lite backend: " + b.describe() + " (native library loaded)");
    } catch (RuntimeException | LinkageError e) {
      return new Selection(
          REFERENCE,
          "Itera-Lite backend: "
              + REFERENCE.describe()
              + " (FALLBACK: native cpu backend unavailable: "
              + reason(e)
              + ")");
    }
  }

  private static String reason(Throwable e) {
    StringBuilder sb = new StringBuilder();
    Throwable t = e;
    for (int depth = 0; t != null && depth < 4; depth++, t = t.getCause()) {
      if (sb.length() > 0) {
        sb.append(" <- ");
      }
      sb.append(t.getClass().getSimpleName());
      if (t.getMessage() != null) {
        sb.append(": ").append(t.getMessage().replace('\n', ' '));
      }
    }
    return sb.toString();
  }
}

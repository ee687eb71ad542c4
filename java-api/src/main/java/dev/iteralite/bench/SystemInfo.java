package dev.iteralite.bench;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.CpuFeatures;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Properties;

/**
 * The machine and software a benchmark ran on, recorded next to every result so figures from two
 * machines are never compared blindly.
 *
 * @param cpuModel the CPU's model name from /proc/cpuinfo ({@code "unknown"} where unreadable)
 * @param cpuFlags every flag /proc/cpuinfo lists for the first CPU (empty where unreadable)
 * @param kernelCpuFeatures the flags the native kernels detected by CPUID (empty without the native backend)
 * @param maxIsa the highest instruction-set level the kernels can use ({@code "n/a"} without the native backend)
 * @param logicalCores processors available to the JVM
 * @param totalMemoryBytes MemTotal from /proc/meminfo, or -1 where unreadable
 * @param maxHeapBytes the JVM's maximum heap
 * @param jdkVendor {@code java.vendor}
 * @param jdkVersion {@code java.runtime.version}
 * @param os operating system name, version and architecture
 * @param backend the backend's one-line description ({@link Backend#describe()})
 * @param threads worker threads of the native kernels (1 for the reference backend)
 * @param iteraLiteVersion the itera-lite artifact version, or why it is unknown
 * @param javacppVersion the JavaCPP version, or why it is unknown
 * @param openblasConfig OpenBLAS's configuration string ({@code "n/a"} without the native backend)
 * @param notes what could not be read, and why
 */
public record SystemInfo(
    String cpuModel,
    List<String> cpuFlags,
    List<String> kernelCpuFeatures,
    String maxIsa,
    int logicalCores,
    long totalMemoryBytes,
    long maxHeapBytes,
    String jdkVendor,
    String jdkVersion,
    String os,
    String backend,
    int threads,
    String iteraLiteVersion,
    String javacppVersion,
    String openblasConfig,
    List<String> notes) {

  /** Copies the lists and rejects nulls. */
  public SystemInfo {
    Objects.requireNonNull(cpuModel, "cpuModel");
    cpuFlags = List.copyOf(cpuFlags);
    kernelCpuFeatures = List.copyOf(kernelCpuFeatures);
    Objects.requireNonNull(maxIsa, "maxIsa");
    Objects.requireNonNull(jdkVendor, "jdkVendor");
    Objects.requireNonNull(jdkVersion, "jdkVersion");
    Objects.requireNonNull(os, "os");
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(iteraLiteVersion, "iteraLiteVersion");
    Objects.requireNonNull(javacppVersion, "javacppVersion");
    Objects.requireNonNull(openblasConfig, "openblasConfig");
    notes = List.copyOf(notes);
  }

  /** Collects the description of this machine and of {@code backend}. */
  public static SystemInfo collect(Backend backend) {
    Objects.requireNonNull(backend, "backend");
    List<String> notes = new ArrayList<>();
    String model = "unknown";
    List<String> flags = List.of();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
        int colon = line.indexOf(':');
        if (colon < 0) {
          continue;
        }
        String key = line.substring(0, colon).trim();
        String value = line.substring(colon + 1).trim();
        if (key.equals("model name") && model.equals("unknown")) {
          model = value;
        } else if (key.equals("flags") && flags.isEmpty()) {
          flags = Arrays.asList(value.split("\\s+"));
        }
      }
      if (model.equals("unknown")) {
        notes.add("/proc/cpuinfo has no 'model name' line");
      }
    } catch (IOException | RuntimeException e) {
      notes.add("/proc/cpuinfo unreadable: " + e);
    }
    long memTotal = -1;
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.UTF_8)) {
        if (line.startsWith("MemTotal:")) {
          memTotal = Long.parseLong(line.substring(9).trim().split("\\s+")[0]) * 1024L;
        }
      }
    } catch (IOException | RuntimeException e) {
      notes.add("/proc/meminfo unreadable: " + e);
    }
    List<String> kernelFeatures = List.of();
    String maxIsa = "n/a";
    String blas = "n/a";
    int threads = 1;
    if (backend instanceof CpuBackend cpu) {
      CpuFeatures f = cpu.features();
      kernelFeatures = List.copyOf(f.flags());
      maxIsa = f.maxIsa().toString();
      blas = f.blasConfig().trim();
      threads = cpu.threads();
    } else {
      notes.add("backend '" + backend.name() + "' is not the native cpu backend: no CPUID features or OpenBLAS config");
    }
    String os = System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
        + System.getProperty("os.arch");
    return new SystemInfo(model, flags, kernelFeatures, maxIsa, Runtime.getRuntime().availableProcessors(), memTotal,
        Runtime.getRuntime().maxMemory(), System.getProperty("java.vendor", "unknown"),
        System.getProperty("java.runtime.version", System.getProperty("java.version", "unknown")), os,
        backend.describe(), threads, readIteraLiteVersion(), readJavacppVersion(), blas, notes);
  }

  /**
   * The itera-lite version: from the Maven metadata the jar plugin puts into the jar, else the
   * manifest's Implementation-Version, else a text saying why it is unknown.
   */
  static String readIteraLiteVersion() {
    String v = pomVersion(SystemInfo.class, "/META-INF/maven/dev.iteralite/itera-lite/pom.properties");
    if (v != null) {
      return v;
    }
    Package p = SystemInfo.class.getPackage();
    if (p != null && p.getImplementationVersion() != null) {
      return p.getImplementationVersion();
    }
    return "unknown (classes not loaded from the itera-lite jar)";
  }

  private static String readJavacppVersion() {
    try {
      String v = org.bytedeco.javacpp.Loader.getVersion();
      return v != null ? v : "unknown (no JavaCPP Maven metadata on the class path)";
    } catch (IOException | RuntimeException | LinkageError e) {
      return "unknown (" + e + ")";
    }
  }

  private static String pomVersion(Class<?> anchor, String resource) {
    try (InputStream in = anchor.getResourceAsStream(resource)) {
      if (in == null) {
        return null;
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      return null;
    }
  }
}

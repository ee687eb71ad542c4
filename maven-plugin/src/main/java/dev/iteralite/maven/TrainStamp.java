package dev.iteralite.maven;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The train goal's up-to-date check: a SHA-256 over the library version, every setting that changes
 * the trained weights and the bytes of every data file, stored in {@link #FILE} next to the
 * checkpoints once a run has finished. An unchanged stamp and an existing checkpoint mean the model
 * need not be trained again.
 */
final class TrainStamp {
  /** The stamp file inside the training output directory. */
  static final String FILE = "itera-train.sha256";

  private TrainStamp() {}

  /**
   * The hash of one training run's inputs. Settings are hashed in key order, so the map's order does
   * not matter; data files are hashed in the given order (their order changes the corpus).
   */
  static String compute(String libraryVersion, Map<String, String> settings, List<Path> dataFiles) throws IOException {
    MessageDigest d = sha256();
    update(d, "itera-train-stamp/1");
    update(d, "library=" + libraryVersion);
    for (Map.Entry<String, String> e : new TreeMap<>(settings).entrySet()) {
      update(d, "setting:" + e.getKey() + "=" + e.getValue());
    }
    byte[] buffer = new byte[1 << 16];
    for (Path f : dataFiles) {
      update(d, "file:" + f.getFileName() + ":" + Files.size(f));
      try (InputStream in = Files.newInputStream(f)) {
        for (int n; (n = in.read(buffer)) > 0; ) {
          d.update(buffer, 0, n);
        }
      }
    }
    return HexFormat.of().formatHex(d.digest());
  }

  /**
   * The library's identity for the stamp: its version, plus, when that version is a snapshot (a
   * rebuilt snapshot may train and compress differently under the same version), the SHA-256 of
   * the jar it was loaded from and of the native kernel libraries its class loader sees (a C++
   * change alters no class, yet changes results and speed).
   */
  static String libraryIdentity(String version, Class<?> libraryClass) {
    if (!version.endsWith("-SNAPSHOT")) {
      return version;
    }
    StringBuilder id = new StringBuilder(version);
    try {
      var source = libraryClass.getProtectionDomain().getCodeSource();
      Path jar = source == null ? null : Path.of(source.getLocation().toURI());
      if (jar != null && Files.isRegularFile(jar)) {
        id.append('+').append(fileHash(jar));
      }
    } catch (java.net.URISyntaxException | IOException | SecurityException | IllegalArgumentException e) {
      // an unreadable jar: the version alone identifies the classes
    }
    MessageDigest kernels = sha256();
    boolean found = false;
    for (String resource : nativeLibraryResources()) {
      try (InputStream in = libraryClass.getClassLoader().getResourceAsStream(resource)) {
        if (in != null) {
          kernels.update(resource.getBytes(StandardCharsets.UTF_8));
          kernels.update(in.readAllBytes());
          found = true;
        }
      } catch (IOException e) {
        // an unreadable library is left out; the jar and version still count
      }
    }
    if (found) {
      id.append("+native=").append(HexFormat.of().formatHex(kernels.digest()));
    }
    return id.toString();
  }

  /** Class-path resources of the JNI libraries that hold the kernels on this platform. */
  static List<String> nativeLibraryResources() {
    String platform = org.bytedeco.javacpp.Loader.getPlatform();
    return List.of("dev/iteralite/nativelib/" + platform + "/" + System.mapLibraryName("jniIteraNative"),
        "dev/iteralite/nativelib/cuda/" + platform + "/" + System.mapLibraryName("jniIteraCuda"));
  }

  /** The SHA-256 of a file's bytes, for settings that are files (a JSON configuration). */
  static String fileHash(Path file) throws IOException {
    return HexFormat.of().formatHex(sha256().digest(Files.readAllBytes(file)));
  }

  /** The stored stamp of {@code outputDirectory}, or null when there is none. */
  static String read(Path outputDirectory) throws IOException {
    return read(outputDirectory, FILE);
  }

  /** The stamp stored in {@code outputDirectory/file} (another goal's stamp file), or null. */
  static String read(Path outputDirectory, String file) throws IOException {
    Path f = outputDirectory.resolve(file);
    return Files.isRegularFile(f) ? Files.readString(f, StandardCharsets.UTF_8).strip() : null;
  }

  /** Stores {@code hash} atomically, so a half-written stamp never marks a run as done. */
  static void write(Path outputDirectory, String hash) throws IOException {
    write(outputDirectory, FILE, hash);
  }

  /** Stores {@code hash} atomically in {@code outputDirectory/file}. */
  static void write(Path outputDirectory, String file, String hash) throws IOException {
    Files.createDirectories(outputDirectory);
    Path tmp = Files.createTempFile(outputDirectory, "." + file, ".tmp");
    Files.writeString(tmp, hash + "\n", StandardCharsets.UTF_8);
    Files.move(tmp, outputDirectory.resolve(file), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** Removes the stamp before a run starts, so an interrupted run is never taken as up to date. */
  static void delete(Path outputDirectory) throws IOException {
    delete(outputDirectory, FILE);
  }

  /** Removes the stamp {@code outputDirectory/file}. */
  static void delete(Path outputDirectory, String file) throws IOException {
    Files.deleteIfExists(outputDirectory.resolve(file));
  }

  private static void update(MessageDigest d, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    // Length-prefixed, so that ("ab","c") and ("a","bc") differ.
    d.update(new byte[] {(byte) (b.length >>> 24), (byte) (b.length >>> 16), (byte) (b.length >>> 8), (byte) b.length});
    d.update(b);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }
}

package dev.iteralite.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Test helper shared by every package: locates the shared real-data folder: {@code -Ditera.data.dir}, else {@code <project root>/../shared/data}. */
public final class TestData {
  private TestData() {}

  public static Path dir() {
    String prop = System.getProperty("itera.data.dir");
    if (prop != null && !prop.isBlank()) {
      return Path.of(prop).toAbsolutePath().normalize();
    }
    // The project root is the topmost folder (from the working directory up) holding a pom.xml.
    Path root = Path.of("").toAbsolutePath();
    for (Path p = root; p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("pom.xml"))) {
        root = p;
      }
    }
    return root.resolve("../shared/data").normalize();
  }

  /** The data file, or skips the calling test with a message when it is absent. */
  public static Path require(String relative) {
    Path f = dir().resolve(relative);
    assumeTrue(Files.isRegularFile(f),
        "real data " + f + " is absent: skipping (set -Ditera.data.dir or provide ../shared/data)");
    return f;
  }
}

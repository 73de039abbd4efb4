# Sourced by bin/test: installs Debian's Apache ZooKeeper (the oracle of the interop tests)
# and a JDK when they are missing and we may use apt-get.
zkpy_ensure_apache_zookeeper() {
    if [ -f /usr/share/java/zookeeper.jar ] && command -v javac >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "zkpy: Apache ZooKeeper (Debian: zookeeper libzookeeper-java) and javac are missing;" \
             "interop tests will be skipped" >&2
        return 0
    fi
    echo "zkpy: installing Debian's Apache ZooKeeper for the interop tests" >&2
    local packages="zookeeper zookeeper-bin libzookeeper-java"
    command -v javac >/dev/null 2>&1 || packages="$packages default-jdk-headless"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >&2
}

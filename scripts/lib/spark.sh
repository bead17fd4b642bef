# Sourced after prerequisites.sh: a Spark 4.3 cluster on loopback, from the pyspark wheel on
# PyPI (pinned, in a cached venv; the wheel carries Spark's jars, the Spark Connect server's
# among them) on Debian's Java 17. The wheel has no start-master.sh, so each daemon is
# started through spark-class: a standalone Master, two Workers (1 core each, an executor of
# 2 GiB on each) and a Spark Connect server (its driver 2 GiB) whose driver runs against that
# Master, so every query is planned by the Connect server and run by the Workers' executors.
# The memory is what Laplace Immo's questions at scale 100 need: with 1 GiB executors and
# driver, Spark ran out of memory there.

spark_install() { # spark_install: Java 17 and the pinned wheel, once per machine
    if ! java -version 2>&1 | grep -q 'version "17'; then
        echo "installing Java 17 for Spark (openjdk-17-jre-headless)"
        apt_install openjdk-17-jre-headless
    fi
    cached_venv pyspark-4.3.0 pyspark==4.3.0
    spark_home="$(ls -d "$auditbook_cache"/pyspark-4.3.0/lib/python3*/site-packages/pyspark)"
    export SPARK_HOME="$spark_home"
}

# spark_start DIR MASTER_PORT CONNECT_PORT: starts the cluster, its logs and scratch in DIR,
# and appends the daemons' PIDs to the caller's `pids` array; `spark_wait` waits for it.
spark_start() {
    local dir="$1" master_port="$2" connect_port="$3"
    mkdir -p "$dir/work" "$dir/local"
    export SPARK_WORKER_DIR="$dir/work" SPARK_LOCAL_DIRS="$dir/local" SPARK_LOG_DIR="$dir"
    local class="$SPARK_HOME/bin/spark-class"
    "$class" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$master_port" \
        --webui-port 0 >"$dir/master.log" 2>&1 &
    pids+=($!)
    for n in 1 2; do
        "$class" org.apache.spark.deploy.worker.Worker "spark://127.0.0.1:$master_port" \
            --host 127.0.0.1 --cores 1 --memory 2560m --webui-port 0 >"$dir/worker-$n.log" 2>&1 &
        pids+=($!)
    done
    "$SPARK_HOME/bin/spark-submit" --class org.apache.spark.sql.connect.service.SparkConnectServer \
        --master "spark://127.0.0.1:$master_port" \
        --conf spark.connect.grpc.binding.address=127.0.0.1 \
        --conf spark.connect.grpc.binding.port="$connect_port" \
        --conf spark.ui.enabled=false --conf spark.driver.host=127.0.0.1 \
        --conf spark.driver.memory=2g --conf spark.executor.memory=2g \
        >"$dir/connect.log" 2>&1 &
    pids+=($!)
}

# spark_wait DIR CONNECT_PORT: waits until Spark Connect answers (about 35 s after the start
# here), then sets `spark_remote` to its sc:// address.
spark_wait() {
    local dir="$1" connect_port="$2"
    for _ in $(seq 1 600); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1', $connect_port), 0.5)" 2>/dev/null; then
            spark_remote="sc://127.0.0.1:$connect_port"; return 0
        fi
        sleep 0.2
    done
    echo "Spark Connect did not start on port $connect_port (see $dir/connect.log)" >&2
    tail -20 "$dir/connect.log" >&2
    return 2
}

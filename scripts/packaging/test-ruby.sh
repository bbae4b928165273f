# Ruby: the platform gem installed with `gem install --local` into a GEM_HOME of its own
# (its ffi dependency: Debian's ruby-ffi, nothing compiled), then a saga that succeeds and
# one that is compensated, against the packaged server, with a business service on a
# socket in the same script; no DTMX_LIB: the gem's own libdtmx is loaded.
# Sourced by scripts/test-packages (see the variables it sets there).
ruby_gem=$(ls "$dist/dtmx-$version"-*-linux.gem)
if ! ruby -e 'require "ffi"' 2>/dev/null; then
  ruby_sudo=""
  [ "$(id -u)" = 0 ] || ruby_sudo=sudo
  $ruby_sudo apt-get update -qq
  $ruby_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby ruby-ffi >/dev/null
fi
ruby_gem_home="$work/gems"
(cd "$work" && GEM_HOME=$ruby_gem_home PATH=$bare_path \
  gem install --local --no-document "$ruby_gem" >/dev/null)
cat >"$work/ruby-saga.rb" <<'RUBY'
# A saga that succeeds and one that is compensated, against the server in ARGV[0]; the
# branches are served by a tiny HTTP server on a socket in this process.
require 'dtmx'
require 'json'
require 'socket'

lib = Dtmx::Native::LIBRARY
abort "libdtmx came from #{lib}, not the gem's" unless lib.start_with?(Gem.dir)

calls = Queue.new
server = TCPServer.new('127.0.0.1', 0)
busi = "http://127.0.0.1:#{server.addr[1]}/api/busi"
Thread.new do
  loop do
    conn = server.accept
    request = conn.gets.to_s
    length = 0
    while (line = conn.gets) && line != "\r\n"
      length = line.split(':', 2)[1].to_i if line =~ /\Acontent-length:/i
    end
    body = length.positive? ? JSON.parse(conn.read(length)) : {}
    step = request.split[1].to_s.split('?').first.split('/').last
    calls << step
    fail_it = step == 'TransIn' && body['fail']
    status, reply = fail_it ? ['409 Conflict', 'FAILURE'] : ['200 OK', 'SUCCESS']
    text = JSON.generate(dtm_result: reply)
    conn.write("HTTP/1.1 #{status}\r\nContent-Type: application/json\r\n" \
               "Content-Length: #{text.bytesize}\r\nConnection: close\r\n\r\n#{text}")
    conn.close
  end
end

dtm = Dtmx::Client.new(ARGV.fetch(0))
def run(dtm, busi, calls, payload)
  saga = dtm.saga
  saga.add("#{busi}/TransOut", "#{busi}/TransOutRevert", payload)
  saga.add("#{busi}/TransIn", "#{busi}/TransInRevert", payload)
  saga.submit
  status = dtm.wait_final(saga.gid, timeout: 20)
  seen = []
  seen << calls.pop until calls.empty?
  [saga.gid, status, seen]
end

gid, status, seen = run(dtm, busi, calls, { amount: 30 })
abort "saga #{gid}: #{status}, calls #{seen}" unless status == 'succeed' && seen == %w[TransOut TransIn]
puts "saga #{gid}: #{status} (#{seen.join(', ')})"
gid, status, seen = run(dtm, busi, calls, { amount: 30, fail: true })
want = %w[TransOut TransIn TransOutRevert]
abort "saga #{gid}: #{status}, calls #{seen}" unless status == 'failed' && (want - seen).empty?
puts "saga #{gid}: #{status}, compensated (#{seen.join(', ')})"
puts "dtmx gem #{Dtmx::VERSION}, libdtmx #{Dtmx::Native.string(Dtmx::Native.dtmx_version)} from #{lib}"
RUBY
(cd "$work" && env -u DTMX_LIB GEM_HOME=$ruby_gem_home PATH=$bare_path \
  ruby "$work/ruby-saga.rb" "$dtm_url")
if readelf -S "$ruby_gem_home"/gems/dtmx-"$version"-*/lib/dtmx/native/*/libdtmx.so |
  grep -q '\.debug_info'; then
  echo "test-packages: libdtmx.so in the gem is not stripped" >&2
  exit 1
fi
echo "ruby gem ($(basename "$ruby_gem")) installed without a toolchain: 1 passed, 0 failed"

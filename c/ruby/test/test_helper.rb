# frozen_string_literal: true

# Shared by the tests: the vectors, free ports, the real dtmx server, a tiny threaded HTTP
# server for business services (Ruby 3.1 ships no webrick).
require 'minitest/autorun'
require 'fileutils'
require 'json'
require 'socket'
require 'tmpdir'
require 'uri'

RUBY_ROOT = File.expand_path('..', __dir__)
REPO = File.expand_path('../../..', __dir__)
ENV['DTMX_LIB'] ||= File.join(REPO, 'target', 'debug', 'libdtmx.so')
$LOAD_PATH.unshift(File.join(RUBY_ROOT, 'lib'))
require 'dtmx'

module TestKit
  VECTORS = File.join(REPO, 'tests', 'vectors')

  module_function

  def load_vectors(name)
    JSON.parse(File.read(File.join(VECTORS, name)))
  end

  def free_port
    s = TCPServer.new('127.0.0.1', 0)
    s.addr[1]
  ensure
    s&.close
  end

  # The decoded pairs of a query string, as a Hash (the last value of a key wins).
  def query_hash(query)
    return {} if query.nil? || query.empty?

    URI.decode_www_form(query).to_h
  end

  # A real dtmx server on free ports with a fresh store and `extra_env` added (e.g.
  # AUTH_SUBMIT_TOKENS); `stop` ends it.
  class Server
    attr_reader :url, :base

    def initialize(extra_env = {})
      @dir = Dir.mktmpdir('dtmx-ruby-')
      bin = ENV['DTMX_BIN'] || File.join(REPO, 'target', 'debug', 'dtmx')
      raise "no dtmx server binary at #{bin} (set DTMX_BIN)" unless File.executable?(bin)

      port = TestKit.free_port
      env = {
        'HTTP_HOST' => '127.0.0.1', 'HTTP_PORT' => port.to_s, 'GRPC_PORT' => TestKit.free_port.to_s,
        'STORE_PATH' => File.join(@dir, 'dtmx.db'), 'LOG_LEVEL' => 'warn', 'TRANS_CRON_INTERVAL' => '1'
      }.merge(extra_env)
      @log = File.join(@dir, 'server.log')
      @pid = Process.spawn(env, bin, in: File::NULL, out: @log, err: @log)
      @base = "http://127.0.0.1:#{port}"
      @url = "#{@base}/api/dtmsvr"
      wait_up
    end

    def wait_up
      150.times do
        if Process.waitpid(@pid, Process::WNOHANG)
          @pid = nil
          raise "dtmx server exited: #{File.read(@log)}"
        end
        return if ping

        sleep 0.1
      end
      log = File.read(@log)
      stop
      raise "dtmx server not up after 15s: #{log}"
    end

    def ping
      Socket.tcp('127.0.0.1', URI(@base).port, connect_timeout: 1) do |s|
        s.write("GET /api/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.read.to_s.start_with?('HTTP/1.1 200')
      end
    rescue SystemCallError, IOError
      false
    end

    def log
      File.read(@log)
    end

    def stop
      return unless @pid

      Process.kill('TERM', @pid)
      Process.wait(@pid)
      @pid = nil
      FileUtils.rm_rf(@dir)
    rescue Errno::ESRCH, Errno::ECHILD
      @pid = nil
    end
  end

  # One request to an HttpServer handler.
  Request = Struct.new(:method, :path, :query, :headers, :body, keyword_init: true)

  # A tiny threaded HTTP/1.1 server on a free loopback port: the handler gets a Request
  # and returns [status, body] (JSON); one thread per connection, keep-alive honoured.
  class HttpServer
    attr_reader :url

    def initialize(&handler)
      @handler = handler
      @server = TCPServer.new('127.0.0.1', 0)
      @url = "http://127.0.0.1:#{@server.addr[1]}"
      @threads = []
      @acceptor = Thread.new { accept_loop }
    end

    def close
      @server.close
      @acceptor.join(2)
      @threads.each { |t| t.kill.join(1) }
    end

    private

    def accept_loop
      loop do
        sock = @server.accept
        @threads << Thread.new(sock) { |s| serve(s) }
      end
    rescue IOError, SystemCallError
      nil # closed
    end

    def read_body(sock, headers)
      return sock.read(headers['content-length'].to_i) if headers['content-length']
      return '' unless headers['transfer-encoding'].to_s.downcase.include?('chunked')

      body = +''
      while (size = sock.gets("\r\n").to_s.strip.to_i(16)).positive?
        body << sock.read(size)
        sock.gets("\r\n")
      end
      sock.gets("\r\n")
      body
    end

    def serve(sock)
      loop do
        line = sock.gets("\r\n") or break
        method, target, = line.split(' ', 3)
        headers = {}
        while (h = sock.gets("\r\n")) && h != "\r\n"
          name, value = h.split(':', 2)
          headers[name.strip.downcase] = value.to_s.strip
        end
        body = read_body(sock, headers)
        path, query = target.split('?', 2)
        req = Request.new(method: method, path: path, query: query, headers: headers, body: body)
        status, reply = begin
          @handler.call(req)
        rescue StandardError => e
          [500, JSON.generate(message: "#{e.class}: #{e.message}")]
        end
        reply = reply.to_s
        close = headers['connection'].to_s.casecmp('close').zero?
        sock.write("HTTP/1.1 #{status} X\r\nContent-Type: application/json\r\n" \
                   "Content-Length: #{reply.bytesize}\r\nConnection: #{close ? 'close' : 'keep-alive'}\r\n\r\n#{reply}")
        break if close
      end
    rescue IOError, SystemCallError
      nil
    ensure
      sock.close unless sock.closed?
    end
  end
end

# frozen_string_literal: true

require 'ffi'

module Dtmx
  # The C API of libdtmx (c/include/dtmx.h), bound with the ffi gem. Everything here is
  # raw: pointers in, pointers out. The rest of the gem wraps it; use Native directly only
  # for what the wrappers do not cover.
  #
  # Calls that talk to dtm are attached with `blocking: true`: they release Ruby's GVL
  # while they wait, so other Ruby threads (a business service in the same process, say)
  # keep running. Callbacks (a transport, the bodies of runs) run on the calling thread
  # and take the GVL back.
  module Native
    extend FFI::Library

    # The libdtmx a platform gem (dtmx-<v>-x86_64-linux.gem) carries for the running
    # platform: lib/dtmx/native/<platform>/libdtmx.so (nil in a gem or checkout without one).
    def self.bundled_library
      path = File.join(__dir__, 'native', Gem::Platform.local.to_s, FFI.map_library_name('dtmx'))
      File.file?(path) ? path : nil
    end

    # Where libdtmx is loaded from: DTMX_LIB when set (only that), else the library the
    # platform gem carries, else `libdtmx` from the dynamic loader's path.
    LIBRARY = ENV['DTMX_LIB'].to_s.empty? ? (bundled_library || 'dtmx') : ENV['DTMX_LIB']

    begin
      ffi_lib LIBRARY
    rescue LoadError => e
      raise LoadError, "cannot load libdtmx from #{LIBRARY} (#{e.message}); install the " \
                       "platform gem (the dtmx gems for x86_64-linux and aarch64-linux carry it), or " \
                       'set DTMX_LIB to the path of libdtmx.so (c/install PREFIX builds and ' \
                       'installs it)'
    end

    # DtmxError: `{DtmxCode code; char *message; DtmxErrorDetails *details}`,
    # zero-initialised (the test suite checks every layout here against dtmx.h).
    class Error < FFI::Struct
      layout :code, :int, :message, :pointer, :details, :pointer
    end

    # DtmxBranch: six owned strings.
    class BranchStruct < FFI::Struct
      layout :gid, :pointer, :trans_type, :pointer, :branch_id, :pointer,
             :op, :pointer, :dtm, :pointer, :phase2_url, :pointer
    end

    # The callback types: name => [C typedef, parameters, return type].
    CALLBACKS = {
      send_fn: ['DtmxSendFn', %i[pointer pointer pointer], :void],
      busi_fn: ['DtmxBusiFn', %i[pointer pointer pointer], :void],
      tcc_body_fn: ['DtmxTccBodyFn', %i[pointer pointer pointer], :void],
      xa_body_fn: ['DtmxXaBodyFn', %i[pointer pointer pointer], :void]
    }.freeze
    CALLBACKS.each { |name, (_c, params, ret)| callback name, params, ret }

    # Every function of dtmx.h: name => [parameters, return type, options]. Calls that talk
    # to dtm are `blocking: true`: they release the GVL while they wait. Every string
    # result is a :pointer, read with Native.string (borrowed and static) or
    # Native.take_string (owned: read, then dtmx_string_free).
    FUNCTIONS = {
      # -- errors and strings
      dtmx_error_free: [[:pointer], :void],
      dtmx_error_set: [%i[pointer int32 string], :void],
      dtmx_error_set_host: [%i[pointer string], :void],
      dtmx_error_set_invalid_payload: [%i[pointer string], :void],
      dtmx_error_note_count: [[:pointer], :size_t],
      dtmx_error_note: [%i[pointer size_t], :pointer],
      dtmx_error_status: [[:pointer], :pointer],
      dtmx_code_name: [[:int32], :pointer],
      dtmx_code_class: [[:int32], :pointer],
      dtmx_string_free: [[:pointer], :void],
      dtmx_version: [[], :pointer],
      # -- barrier tables
      dtmx_barrier_table_new: [%i[string string pointer], :pointer],
      dtmx_barrier_table_dialect: [[:pointer], :pointer],
      dtmx_barrier_table_name: [[:pointer], :pointer],
      dtmx_barrier_table_ddl_count: [[:pointer], :size_t],
      dtmx_barrier_table_ddl: [%i[pointer size_t], :pointer],
      dtmx_barrier_table_insert_ignore_sql: [[:pointer], :pointer],
      dtmx_barrier_table_select_reason_sql: [[:pointer], :pointer],
      dtmx_barrier_table_render: [%i[pointer string string pointer], :pointer],
      dtmx_barrier_table_free: [[:pointer], :void],
      # -- barriers
      dtmx_barrier_new: [%i[string string string string pointer], :pointer],
      dtmx_barrier_from_query: [%i[string pointer], :pointer],
      dtmx_barrier_from_query_pairs: [%i[pointer pointer size_t pointer], :pointer],
      dtmx_barrier_from_branch: [%i[pointer pointer], :pointer],
      dtmx_barrier_from_grpc_metadata: [%i[pointer pointer size_t pointer], :pointer],
      dtmx_barrier_for_msg: [%i[string pointer], :pointer],
      dtmx_barrier_check_back: [%i[pointer string pointer], :int],
      dtmx_barrier_redis_default_expire: [[], :uint64],
      dtmx_barrier_trans_type: [[:pointer], :pointer],
      dtmx_barrier_gid: [[:pointer], :pointer],
      dtmx_barrier_branch_id: [[:pointer], :pointer],
      dtmx_barrier_op: [[:pointer], :pointer],
      dtmx_barrier_next_barrier_id: [[:pointer], :pointer],
      dtmx_barrier_call_machine: [%i[pointer pointer pointer], :pointer],
      dtmx_barrier_query_prepared_machine: [%i[pointer pointer pointer], :pointer],
      dtmx_barrier_xa_action_machine: [%i[pointer pointer pointer], :pointer],
      dtmx_barrier_xa_rollback_fence: [%i[pointer pointer pointer], :pointer],
      dtmx_barrier_free: [[:pointer], :void],
      # -- step machines
      dtmx_barrier_call_step: [[:pointer], :int],
      dtmx_barrier_call_sql: [[:pointer], :pointer],
      dtmx_barrier_call_param_count: [[:pointer], :size_t],
      dtmx_barrier_call_param: [%i[pointer size_t], :pointer],
      dtmx_barrier_call_feed_affected: [%i[pointer uint64 pointer], :int],
      dtmx_barrier_call_feed_reason: [%i[pointer string pointer], :int],
      dtmx_barrier_call_decision: [[:pointer], :int],
      dtmx_barrier_call_result: [[:pointer], :pointer],
      dtmx_barrier_call_check: [%i[pointer pointer], :int],
      dtmx_barrier_call_barrier_id: [[:pointer], :pointer],
      dtmx_barrier_call_free: [[:pointer], :void],
      # -- guards
      dtmx_guard_new: [%i[pointer pointer bool pointer], :pointer],
      dtmx_guard_check_back: [%i[pointer pointer bool pointer], :pointer],
      dtmx_guard_ownership: [[:pointer], :pointer],
      dtmx_guard_action: [[:pointer], :int],
      dtmx_guard_sql: [[:pointer], :pointer],
      dtmx_guard_param_count: [[:pointer], :size_t],
      dtmx_guard_param: [%i[pointer size_t], :pointer],
      dtmx_guard_ok: [%i[pointer pointer], :int],
      dtmx_guard_feed_affected: [%i[pointer uint64 pointer], :int],
      dtmx_guard_feed_reason: [%i[pointer string pointer], :int],
      dtmx_guard_fail: [%i[pointer pointer], :int],
      dtmx_guard_decision: [[:pointer], :int],
      dtmx_guard_error: [%i[pointer pointer], :int],
      dtmx_guard_raises_failure: [[:pointer], :bool],
      dtmx_guard_free: [[:pointer], :void],
      # -- statements
      dtmx_statement_sql: [[:pointer], :pointer],
      dtmx_statement_param_count: [[:pointer], :size_t],
      dtmx_statement_param: [%i[pointer size_t], :pointer],
      dtmx_statement_free: [[:pointer], :void],
      # -- Redis barrier
      dtmx_barrier_redis_check_adjust_amount_call: [%i[pointer string int64 uint64 pointer], :pointer],
      dtmx_barrier_redis_query_prepared_call: [%i[pointer uint64 pointer], :pointer],
      dtmx_redis_call_script: [[:pointer], :pointer],
      dtmx_redis_call_key_count: [[:pointer], :size_t],
      dtmx_redis_call_key: [%i[pointer size_t], :pointer],
      dtmx_redis_call_arg_count: [[:pointer], :size_t],
      dtmx_redis_call_arg: [%i[pointer size_t], :pointer],
      dtmx_redis_call_decide: [%i[pointer string pointer], :pointer],
      dtmx_redis_call_free: [[:pointer], :void],
      # -- branches and replies
      dtmx_branch_from_query: [%i[string pointer], :pointer],
      dtmx_branch_from_query_pairs: [%i[pointer pointer size_t pointer], :pointer],
      dtmx_branch_from_grpc_metadata: [%i[pointer pointer size_t pointer], :pointer],
      dtmx_branch_free: [[:pointer], :void],
      dtmx_outcome_name: [[:int32], :pointer],
      dtmx_outcome_reply: [%i[int32 string pointer pointer pointer], :int],
      dtmx_outcome_of_error: [%i[int32 string pointer], :int],
      dtmx_outcome_from_http: [%i[uint16 pointer size_t pointer], :int],
      dtmx_grpc_code: [[:int32], :int32],
      dtmx_outcome_from_grpc: [%i[int32 string pointer], :int],
      dtmx_check_branch_reply: [%i[uint16 pointer size_t pointer], :int],
      dtmx_check_server_reply: [%i[uint16 pointer size_t pointer], :int],
      # -- clients (the blocking ones release the GVL)
      dtmx_client_new: [%i[string pointer], :pointer, { blocking: true }],
      dtmx_client_new_with_transport: [%i[string send_fn pointer pointer], :pointer],
      dtmx_client_set_token: [%i[pointer string pointer], :int],
      dtmx_client_free: [[:pointer], :void],
      dtmx_client_server: [%i[pointer pointer], :pointer],
      dtmx_client_new_gid: [%i[pointer pointer], :pointer, { blocking: true }],
      dtmx_client_local_gid: [%i[pointer pointer], :pointer],
      dtmx_client_query: [%i[pointer string pointer], :pointer, { blocking: true }],
      dtmx_client_wait_final: [%i[pointer string uint64 pointer], :pointer, { blocking: true }],
      # -- the transport callback's request and response
      dtmx_request_method: [[:pointer], :pointer],
      dtmx_request_url: [[:pointer], :pointer],
      dtmx_request_header_count: [[:pointer], :size_t],
      dtmx_request_header_name: [%i[pointer size_t], :pointer],
      dtmx_request_header_value: [%i[pointer size_t], :pointer],
      dtmx_request_body: [%i[pointer pointer], :pointer],
      dtmx_request_timeout_ms: [[:pointer], :uint64],
      dtmx_response_set: [%i[pointer uint16 pointer size_t], :void],
      dtmx_response_fail: [%i[pointer string], :void],
      # -- saga
      dtmx_saga_new: [%i[pointer string string pointer], :pointer],
      dtmx_saga_gid: [[:pointer], :pointer],
      dtmx_saga_add: [%i[pointer string string string pointer], :int],
      dtmx_saga_add_branch_order: [%i[pointer size_t pointer size_t pointer], :int],
      dtmx_saga_enable_concurrent: [%i[pointer pointer], :int],
      dtmx_saga_submit: [%i[pointer pointer], :int, { blocking: true }],
      dtmx_saga_free: [[:pointer], :void],
      # -- msg
      dtmx_msg_new: [%i[pointer string string pointer], :pointer],
      dtmx_msg_gid: [[:pointer], :pointer],
      dtmx_msg_add: [%i[pointer string string pointer], :int],
      dtmx_msg_add_topic: [%i[pointer string string pointer], :int],
      dtmx_msg_set_delay: [%i[pointer uint64 pointer], :int],
      dtmx_msg_enable_concurrent: [%i[pointer pointer], :int],
      dtmx_msg_prepare: [%i[pointer string pointer], :int, { blocking: true }],
      dtmx_msg_submit: [%i[pointer pointer], :int, { blocking: true }],
      dtmx_msg_abort: [%i[pointer pointer], :int, { blocking: true }],
      dtmx_msg_do_and_submit: [%i[pointer string busi_fn pointer pointer], :int, { blocking: true }],
      dtmx_msg_free: [[:pointer], :void],
      # -- tcc
      dtmx_tcc_new: [%i[pointer string string pointer], :pointer],
      dtmx_client_tcc_from_branch: [%i[pointer pointer pointer], :pointer],
      dtmx_tcc_gid: [[:pointer], :pointer],
      dtmx_tcc_current_branch_id: [[:pointer], :pointer],
      dtmx_tcc_prepare: [%i[pointer pointer], :int, { blocking: true }],
      dtmx_tcc_call_branch: [%i[pointer string string string string pointer], :pointer, { blocking: true }],
      dtmx_tcc_submit: [%i[pointer pointer], :int, { blocking: true }],
      dtmx_tcc_abort: [%i[pointer string pointer], :int, { blocking: true }],
      dtmx_tcc_run: [%i[pointer tcc_body_fn pointer pointer], :int, { blocking: true }],
      dtmx_tcc_free: [[:pointer], :void],
      # -- xa (client side)
      dtmx_xa_new: [%i[pointer string string pointer], :pointer],
      dtmx_xa_gid: [[:pointer], :pointer],
      dtmx_xa_current_branch_id: [[:pointer], :pointer],
      dtmx_xa_prepare: [%i[pointer pointer], :int, { blocking: true }],
      dtmx_xa_call_branch: [%i[pointer string string pointer], :pointer, { blocking: true }],
      dtmx_xa_submit: [%i[pointer pointer], :int, { blocking: true }],
      dtmx_xa_abort: [%i[pointer pointer], :int, { blocking: true }],
      dtmx_xa_run: [%i[pointer xa_body_fn pointer pointer], :int, { blocking: true }],
      dtmx_xa_free: [[:pointer], :void],
      # -- the RM side of XA
      dtmx_xa_local_new: [%i[pointer pointer pointer], :pointer],
      dtmx_xa_local_from_query: [%i[string pointer pointer], :pointer],
      dtmx_xa_local_phase: [[:pointer], :int],
      dtmx_xa_local_xid: [[:pointer], :pointer],
      dtmx_xa_local_step: [[:pointer], :int],
      dtmx_xa_local_sql: [[:pointer], :pointer],
      dtmx_xa_local_param_count: [[:pointer], :size_t],
      dtmx_xa_local_param: [%i[pointer size_t], :pointer],
      dtmx_xa_local_request: [[:pointer], :pointer],
      dtmx_xa_local_feed_affected: [%i[pointer uint64 pointer], :int],
      dtmx_xa_local_feed_reason: [%i[pointer string pointer], :int],
      dtmx_xa_local_feed_sql_error: [%i[pointer string pointer], :int],
      dtmx_xa_local_feed_business: [%i[pointer pointer pointer], :int],
      dtmx_xa_local_feed_reply: [%i[pointer uint16 pointer size_t pointer], :int],
      dtmx_xa_local_feed_send_error: [%i[pointer string pointer], :int],
      dtmx_xa_local_finish: [%i[pointer pointer], :int],
      dtmx_xa_local_free: [[:pointer], :void]
    }.freeze
    FUNCTIONS.each { |name, (params, ret, options)| attach_function name, params, ret, options || {} }

    module_function

    # A borrowed or static C string as a UTF-8 String (nil for NULL).
    def string(ptr)
      return nil if ptr.nil? || ptr.null?

      ptr.read_string.force_encoding(Encoding::UTF_8)
    end

    # An owned C string as a UTF-8 String (nil for NULL); frees it.
    def take_string(ptr)
      return nil if ptr.nil? || ptr.null?

      begin
        ptr.read_string.force_encoding(Encoding::UTF_8)
      ensure
        dtmx_string_free(ptr)
      end
    end

    # Reads and frees the owned string an out-parameter (`char **`) received.
    def take_out_string(out)
      take_string(out.read_pointer)
    end

    # Calls the block with a fresh DtmxError; raises the Dtmx::Error it reports, else
    # returns the block's value. The error is always freed.
    def check
      err = Error.new
      begin
        value = yield err.pointer
        raise error_of(err) if err[:code] != 0

        value
      ensure
        dtmx_error_free(err.pointer)
      end
    end

    # The Dtmx::Error the block writes into a fresh DtmxError.
    def made
      err = Error.new
      begin
        yield err.pointer
        error_of(err)
      ensure
        dtmx_error_free(err.pointer)
      end
    end

    # The Dtmx::Error a filled DtmxError holds, with its notes and status.
    def error_of(err)
      notes = Array.new(dtmx_error_note_count(err.pointer)) { |i| string(dtmx_error_note(err.pointer, i)) }
      Dtmx.error_for(err[:code], string(err[:message]), notes: notes, status: string(dtmx_error_status(err.pointer)))
    end

    # Runs a libdtmx call that calls back a body of the caller's (`dtmx_tcc_run`,
    # `dtmx_xa_run`, `dtmx_msg_do_and_submit`): the block gets the callback and the error
    # out-parameter and makes the call; the callback runs `body` with the handle libdtmx
    # lends. An exception of `body` never unwinds through libdtmx: it is kept, libdtmx
    # gets its code and message (a Dtmx::Error's own code; for any other exception
    # `dtmx_error_set_host`, never taken for a refusal), and when the call returns the
    # kept exception is raised again with the notes libdtmx added to it (Dtmx.notes).
    # Returns what `body` returned.
    def run_body(body)
      raised = nil
      value = nil
      fn = FFI::Function.new(:void, %i[pointer pointer pointer]) do |_user, handle, err|
        value = body.call(handle)
      rescue Exception => e # rubocop:disable Lint/RescueException
        raised = e
        report(e, err)
      end
      begin
        check { |err| yield fn, err }
      rescue Dtmx::Error => e
        # The body's error always wins (libdtmx returns it): raise the body's own.
        raise unless raised

        Dtmx.add_notes(raised, e.notes)
        raise raised
      end
      value
    end

    # Reports exception `e` of a body to libdtmx in `err`.
    def report(e, err)
      message = e.message.to_s.delete("\0")
      message = e.class.name.to_s if message.empty?
      if e.is_a?(Dtmx::Error)
        dtmx_error_set(err, e.code, message)
      else
        dtmx_error_set_host(err, message)
      end
    rescue Exception # rubocop:disable Lint/RescueException
      dtmx_error_set_host(err, e.class.name.to_s)
    end

    # A handle returned by a constructor: wrapped in an AutoPointer freed by `free_fn`
    # (a Symbol naming the _free function). Raises the error when the call returned NULL.
    def handle(free_fn, &block)
      ptr = check(&block)
      raise Dtmx::InternalError, 'libdtmx returned NULL without an error' if ptr.null?

      FFI::AutoPointer.new(ptr, method(free_fn))
    end

    # A byte buffer holding `bytes` (nil: NULL) and its length.
    def bytes(bytes)
      return [nil, 0] if bytes.nil?

      data = bytes.to_s.b
      return [FFI::MemoryPointer.new(:uint8, 1), 0] if data.empty?

      buf = FFI::MemoryPointer.new(:uint8, data.bytesize)
      buf.put_bytes(0, data)
      [buf, data.bytesize]
    end

    # A `const char *const *` array of `strings`; returns [array, buffers to keep alive].
    def string_array(strings)
      keep = strings.map { |s| FFI::MemoryPointer.from_string(s.to_s) }
      array = FFI::MemoryPointer.new(:pointer, [keep.size, 1].max)
      array.write_array_of_pointer(keep) unless keep.empty?
      [array, keep]
    end
  end
end

# frozen_string_literal: true

module Dtmx
  # The database connections the barrier runs on (Barrier#call, Barrier#query_prepared).
  # Each translates the guard's actions into its driver's calls and reports the driver's
  # fact: is the connection inside a transaction? Nothing is decided here.
  #
  # Built in: a SQLite3::Database (the sqlite3 gem; `transaction_active?`) and a
  # PG::Connection (the pg gem; `transaction_status` is in a transaction or failed one).
  # Any other object is used as it is when it answers `begin`, `commit`, `rollback`,
  # `execute(sql, params)` (returns the rows affected) and `query_reason(sql, params)`
  # (the first column of the first row, nil for none), and `in_transaction?` when its
  # driver can tell (else pass `in_transaction:` to the barrier).
  module Connection
    # The connection for `db`: a built-in one, or `db` itself.
    def self.for(db)
      if defined?(::SQLite3::Database) && db.is_a?(::SQLite3::Database)
        SQLite3.new(db)
      elsif defined?(::PG::Connection) && db.is_a?(::PG::Connection)
        PG.new(db)
      else
        missing = %i[begin commit rollback execute query_reason].reject { |m| db.respond_to?(m) }
        raise ArgumentError, "#{db.class} is no barrier connection: it has no #{missing.join(', ')}" unless missing.empty?

        db
      end
    end

    # Whether `conn` is inside a transaction: its driver's fact, or for a connection
    # whose driver cannot tell, `in_transaction` (nil: not). The keyword is refused for a
    # driver that tells.
    def self.in_transaction?(conn, in_transaction)
      return in_transaction == true unless conn.respond_to?(:in_transaction?)
      raise ArgumentError, "in_transaction: is for connections whose driver cannot tell; #{conn.class} tells" unless in_transaction.nil?

      conn.in_transaction?
    end

    # A SQLite3::Database of the sqlite3 gem.
    class SQLite3
      def initialize(db)
        @db = db
      end

      # The dialect of the default barrier table.
      def dialect
        'sqlite'
      end

      def in_transaction?
        @db.transaction_active?
      end

      def begin
        @db.transaction
      end

      def commit
        @db.commit
      end

      def rollback
        @db.rollback
      end

      def execute(sql, params)
        @db.execute(sql, params)
        @db.changes
      end

      def query_reason(sql, params)
        @db.get_first_value(sql, params)
      end
    end

    # A PG::Connection of the pg gem.
    class PG
      def initialize(db)
        @db = db
      end

      # The dialect of the default barrier table.
      def dialect
        'postgres'
      end

      # In a transaction block, or in a failed one (which only a rollback ends).
      def in_transaction?
        [::PG::PQTRANS_INTRANS, ::PG::PQTRANS_INERROR].include?(@db.transaction_status)
      end

      def begin
        @db.exec('begin')
      end

      def commit
        @db.exec('commit')
      end

      def rollback
        @db.exec('rollback')
      end

      def execute(sql, params)
        @db.exec_params(sql, params).cmd_tuples
      end

      def query_reason(sql, params)
        result = @db.exec_params(sql, params)
        result.ntuples.zero? ? nil : result.getvalue(0, 0)
      end
    end
  end
end

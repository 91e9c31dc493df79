# @summary One canihaz test: the file `<tests_dir>/<title>.conf`, checked by `canihaz check` before it
#   replaces the one in place.
#
# The file's content is Sensitive and never shown as a diff (header values may be tokens); a bad test
# fails this resource only, with check's own message (which never carries a secret), and the file
# already in place stays as it was.
#
# @example A test with a header and a literal | in a value
#   canihaz::test { 'search':
#     frequency   => 600,
#     destination => ['statsd', 'graphite'],
#     options     => {
#       'url'     => 'http://10.0.0.8/search?q=a|b',
#       'header'  => ['Accept: application/json', Sensitive('Authorization: Bearer s3cret')],
#       'timeout' => '2s',
#     },
#   }
#
# @example Lines written by hand, as in the tests file
#   canihaz::test { 'team-a':
#     content => "home|http|60|statsd|url=http://127.0.0.1:8080/health\n",
#   }
#
# @param ensure
#   `present` writes the file; `absent` removes it (so does purge_tests, for a resource simply dropped).
# @param test_name
#   The test's name (one metric path segment): A-Z a-z 0-9 _ -, up to 64 characters.
# @param test_type
#   The test type (`http`).
# @param frequency
#   Executions per minute; 0 pauses the test. Required unless content is given.
# @param destination
#   Where metrics go: `statsd`, `statsd://host:port`, `graphite`, `console`…; an Array is joined with
#   commas. Required unless content is given.
# @param options
#   The key=value fields, in the order given. An Array value repeats its key (header). Values may be
#   Sensitive. A literal | in a value is written %7C for you; a line break is refused.
# @param content
#   The file's lines as in the tests file, instead of test_type, frequency, destination and options.
define canihaz::test (
  Enum['present', 'absent'] $ensure = 'present',
  Pattern[/\A[A-Za-z0-9_-]{1,64}\z/] $test_name = $title,
  Pattern[/\A[a-z][a-z0-9_-]*\z/] $test_type = 'http',
  Optional[Integer[0]] $frequency = undef,
  Optional[Variant[Pattern[/\A[^|\r\n]+\z/], Array[Pattern[/\A[^|,\r\n]+\z/], 1]]] $destination = undef,
  Hash[
    Pattern[/\A[a-z][a-z0-9_]*\z/],
    Variant[Scalar, Sensitive[String], Array[Variant[Scalar, Sensitive[String]], 1]]
  ] $options = {},
  Optional[String] $content = undef,
) {
  include canihaz

  unless $title =~ /\A[A-Za-z0-9_.-]{1,64}\z/ and $title !~ /\A\./ {
    fail("canihaz::test[${title}]: the title names the file <tests_dir>/<title>.conf: use A-Z a-z 0-9 _ . -, not starting with a dot")
  }

  if $content != undef {
    if $frequency != undef or $destination != undef or !$options.empty {
      fail("canihaz::test[${title}]: give either content or frequency, destination and options, not both")
    }
    $text = $content =~ /\n\z/ ? {
      true    => $content,
      default => "${content}\n",
    }
  } elsif $ensure == 'present' {
    if $frequency == undef or $destination == undef {
      fail("canihaz::test[${title}]: frequency and destination are required (or give content)")
    }
    # Values as plain strings, each key's values as a list; a line break would start a new test line.
    $plain = $options.map |$key, $value| {
      $values = [$value].flatten.map |$one| {
        $one ? {
          Sensitive => $one.unwrap,
          default   => String($one),
        }
      }
      if $values.any |$v| { $v =~ /[\r\n]/ } {
        fail("canihaz::test[${title}]: options ${key}: a value must not contain a line break")
      }
      [$key, $values]
    }
    $text = epp('canihaz/test.conf.epp', {
        'test_name'    => $test_name,
        'test_type'    => $test_type,
        'frequency'    => $frequency,
        'destinations' => [$destination].flatten,
        'options'      => Hash($plain),
    })
  }

  $file = "${canihaz::tests_dir}/${title}.conf"
  if $ensure == 'present' {
    file { $file:
      ensure       => file,
      owner        => 'root',
      group        => 'root',
      mode         => '0644',
      content      => Sensitive($text),
      show_diff    => false,
      validate_cmd => '/usr/bin/canihaz check --config %',
      require      => File[$canihaz::settings_file],
    }
  } else {
    file { $file:
      ensure => absent,
    }
  }
}
